/* Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * Embeds a compiled model through the C API from plain C: describe it, run it
 * with caller-owned output buffers, check the capacity error, set threads,
 * a token id out of range (an error from the compiled code).
 * Usage: embed MODEL_DIR (a LLaMA-style decode graph from llm_graphs.py). */
#include <slim/Runtime.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  slim_model *model;
  if (argc != 2 || slim_model_load(argv[1], &model) != SLIM_OK) {
    printf("load failed: %s\n", slim_last_error());
    return 1;
  }
  int nin = slim_model_num_inputs(model), nout = slim_model_num_outputs(model);
  const slim_tensor_info *info = slim_model_input(model, 0);
  printf("inputs %d outputs %d first '%s' %s rank %d dim0 %s\n", nin, nout,
         info->name, slim_dtype_name(info->dtype), info->rank,
         info->dim_names[0]);
  if (slim_model_input(model, nin) != NULL)
    return 1;
  if (slim_model_set_threads(model, 1) != SLIM_OK)
    return 1;

  /* input_ids, position_ids: [1, 3]; each cache entry [1, kv, 2, head]. */
  int64_t ids[3] = {1, 2, 3}, pos[3] = {2, 3, 4};
  slim_tensor in[16];
  memset(in, 0, sizeof in);
  float *cache[16] = {0};
  for (int i = 0; i < nin; ++i) {
    const slim_tensor_info *ti = slim_model_input(model, i);
    in[i].dtype = ti->dtype;
    in[i].rank = ti->rank;
    if (i < 2) {
      in[i].dims[0] = 1;
      in[i].dims[1] = 3;
      in[i].data = i == 0 ? (void *)ids : (void *)pos;
      in[i].capacity = sizeof ids;
    } else {
      size_t n = (size_t)ti->dims[1] * 2 * ti->dims[3];
      cache[i] = calloc(n, sizeof(float));
      in[i].dims[0] = 1;
      in[i].dims[1] = ti->dims[1];
      in[i].dims[2] = 2;
      in[i].dims[3] = ti->dims[3];
      in[i].data = cache[i];
      in[i].capacity = n * sizeof(float);
    }
  }
  /* Outputs into caller buffers: first too small, then large enough. */
  slim_tensor out[16];
  memset(out, 0, sizeof out);
  static float buffers[16][1 << 14];
  for (int i = 0; i < nout; ++i) {
    out[i].data = buffers[i];
    out[i].capacity = 16;
  }
  slim_status s = slim_model_run(model, in, nin, out, nout);
  printf("small buffers: status %d: %s\n", (int)s, slim_last_error());
  for (int i = 0; i < nout; ++i)
    out[i].capacity = sizeof buffers[i];
  s = slim_model_run(model, in, nin, out, nout);
  printf("run: status %d logits [%lld, %lld, %lld] present dim2 %lld\n", (int)s,
         (long long)out[0].dims[0], (long long)out[0].dims[1],
         (long long)out[0].dims[2], (long long)out[1].dims[2]);
  s = slim_model_run(model, in, nin - 1, out, nout);
  printf("missing input: status %d: %s\n", (int)s, slim_last_error());
  /* A token id beyond the vocabulary stops the run with an error; the model
     stays usable (and freed what the stopped run had allocated). */
  ids[2] = 1000;
  for (int rep = 0; rep < 100; ++rep)
    s = slim_model_run(model, in, nin, out, nout);
  printf("bad token: status %d: %s\n", (int)s, slim_last_error());
  ids[2] = 3;
  /* Dimensions whose product overflows 64 bits (2^32 x 2^32 = 0 when it
     wraps: no capacity would be needed) are refused. */
  in[0].dims[0] = in[1].dims[0] = (int64_t)1 << 32;
  in[0].dims[1] = in[1].dims[1] = (int64_t)1 << 32;
  s = slim_model_run(model, in, nin, out, nout);
  printf("huge: status %d: %s\n", (int)s, slim_last_error());
  in[0].dims[0] = in[1].dims[0] = 1;
  in[0].dims[1] = in[1].dims[1] = 3;
  /* A dtype number that is none of slim_dtype's (C lets a caller pass any
     int). */
  in[0].dtype = (slim_dtype)47;
  s = slim_model_run(model, in, nin, out, nout);
  printf("bad dtype: status %d: %s (size %zu)\n", (int)s, slim_last_error(),
         slim_dtype_size((slim_dtype)47));
  in[0].dtype = SLIM_INT64;
  s = slim_model_run(model, in, nin, out, nout);
  printf("after: status %d logits [%lld, %lld, %lld]\n", (int)s,
         (long long)out[0].dims[0], (long long)out[0].dims[1],
         (long long)out[0].dims[2]);
  for (int i = 0; i < 16; ++i)
    free(cache[i]);
  slim_model_free(model);
  return 0;
}
