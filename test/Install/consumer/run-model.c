/* A C program of another project running a model compiled by the installed
 * slimc, linked with the installed libslim-runtime (pkg-config). Prints the
 * argmax of the last logits row for a few tokens. */
#include <slim/Runtime.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 2)
    return 2;
  slim_model *m;
  if (slim_model_load(argv[1], &m) != SLIM_OK) {
    printf("load: %s\n", slim_last_error());
    return 1;
  }
  int64_t ids[4] = {1, 2, 3, 4}, pos[4] = {0, 1, 2, 3};
  int32_t nin = slim_model_num_inputs(m), nout = slim_model_num_outputs(m);
  slim_tensor in[2] = {{ids, SLIM_INT64, 2, {1, 4}, sizeof ids},
                       {pos, SLIM_INT64, 2, {1, 4}, sizeof pos}};
  slim_tensor *out = calloc((size_t)nout, sizeof *out);
  slim_status s = slim_model_run(m, in, nin, out, nout);
  if (s != SLIM_OK) {
    printf("run: %s\n", slim_last_error());
    return 1;
  }
  const float *logits = out[0].data;
  int64_t vocab = out[0].dims[2], best = 0;
  for (int64_t v = 1; v < vocab; ++v)
    if (logits[3 * vocab + v] > logits[3 * vocab + best])
      best = v;
  printf("inputs %d outputs %d logits [%lld, %lld, %lld] argmax %lld\n", nin,
         nout, (long long)out[0].dims[0], (long long)out[0].dims[1],
         (long long)vocab, (long long)best);
  for (int32_t i = 0; i < nout; ++i)
    slim_tensor_release(&out[i]);
  free(out);
  slim_model_free(m);
  return 0;
}
