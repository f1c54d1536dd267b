/*===- slim/Runtime.h - Running compiled Slim models ----------------*- C
 *-*-===*
 *
 * Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 *===----------------------------------------------------------------------===*
 *
 * The C API of Slim's runtime. `slimc` writes a model directory (model.so,
 * model.weights, model.json, model.h); this API loads it, describes its inputs
 * and outputs, and runs it on caller-owned buffers with any legal shape.
 *
 *   slim_model *m;
 *   if (slim_model_load("out", &m) != SLIM_OK) puts(slim_last_error());
 *   slim_tensor in = {data, SLIM_INT64, 2, {1, 7}, sizeof data};
 *   slim_tensor out = {NULL};                 // runtime allocates
 *   slim_model_run(m, &in, &out);
 *   ... slim_tensor_release(&out); slim_model_free(m);
 *
 * Errors are status codes; slim_last_error() returns the message of the
 * calling thread's last failure (e.g. which input and dimension mismatched).
 *===----------------------------------------------------------------------===*/

#ifndef SLIM_RUNTIME_H
#define SLIM_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum slim_status {
  SLIM_OK = 0,
  SLIM_ERROR_IO = 1,       /* a file is missing, unreadable or truncated */
  SLIM_ERROR_FORMAT = 2,   /* a model file is malformed */
  SLIM_ERROR_ARGUMENT = 3, /* wrong count, null pointer, bad option */
  SLIM_ERROR_TYPE = 4,     /* wrong element type or rank */
  SLIM_ERROR_SHAPE = 5,    /* a dimension does not match */
  SLIM_ERROR_CAPACITY = 6, /* an output buffer is too small */
  SLIM_ERROR_TARGET = 7,   /* the model needs CPU features this CPU lacks */
  SLIM_ERROR_INPUT = 8,    /* an input's values are invalid for the model (a
                              token id out of range, dimensions that must
                              agree): the run stopped, outputs unset */
  SLIM_ERROR_MEMORY = 9,   /* the run could not allocate a buffer */
} slim_status;

/* Element types; the values are ONNX's TensorProto.DataType codes. */
typedef enum slim_dtype {
  SLIM_FLOAT = 1,
  SLIM_UINT8 = 2,
  SLIM_INT8 = 3,
  SLIM_UINT16 = 4,
  SLIM_INT16 = 5,
  SLIM_INT32 = 6,
  SLIM_INT64 = 7,
  SLIM_BOOL = 9,
  SLIM_FLOAT16 = 10,
  SLIM_DOUBLE = 11,
  SLIM_UINT32 = 12,
  SLIM_UINT64 = 13,
  SLIM_BFLOAT16 = 16,
} slim_dtype;

#define SLIM_MAX_RANK 8

/* A tensor the caller owns: row-major, `data` holds `capacity` bytes. For an
 * output, `data` may be NULL: the runtime then hands out the buffer the model
 * computed into, without a copy (release it with slim_tensor_release). On
 * return, `rank` and `dims` describe the result. */
typedef struct slim_tensor {
  void *data;
  slim_dtype dtype;
  int32_t rank;
  int64_t dims[SLIM_MAX_RANK];
  size_t capacity;
  /* Set by the runtime for buffers it hands out (release with
   * slim_tensor_release); leave NULL. */
  void *owner;
} slim_tensor;

/* One input or output of a model; dims[i] == -1 for a dynamic dimension,
 * whose symbolic name (or "") is dim_names[i]. */
typedef struct slim_tensor_info {
  const char *name;
  slim_dtype dtype;
  int32_t rank;
  const int64_t *dims;
  const char *const *dim_names;
} slim_tensor_info;

typedef struct slim_model slim_model;

slim_status slim_model_load(const char *directory, slim_model **model);
void slim_model_free(slim_model *model);

int32_t slim_model_num_inputs(const slim_model *model);
int32_t slim_model_num_outputs(const slim_model *model);
/* NULL for an index out of range. */
const slim_tensor_info *slim_model_input(const slim_model *model, int32_t i);
const slim_tensor_info *slim_model_output(const slim_model *model, int32_t i);

/* Threads used by the model's kernels (default: all cores). */
slim_status slim_model_set_threads(slim_model *model, int32_t threads);

/* Tunes glibc's malloc for repeated runs (a process-wide setting, so only on
 * request): freed activation buffers stay in the heap instead of going back
 * to the kernel after each run, where large buffers would otherwise be
 * mapped and faulted in again on every call (mallopt M_MMAP_THRESHOLD and
 * M_TRIM_THRESHOLD to 1 GiB). slim-run calls it; SLIM_NO_MALLOPT=1 in the
 * environment makes it do nothing. */
void slim_runtime_tune_allocator(void);

/* Runs the model. `inputs` and `outputs` are in the model's order. */
slim_status slim_model_run(slim_model *model, const slim_tensor *inputs,
                           int32_t num_inputs, slim_tensor *outputs,
                           int32_t num_outputs);

/* Calibration. A model compiled with `slimc --calibration` reports the
   inputs of its linear layers to an observer while it runs: one call per
   observation point and run, with `num_rows` rows of `channels` floats
   (row r at rows + r * row_stride). Layers reading the same input share a
   point. The data is only valid during the call. */
typedef void (*slim_observer_fn)(void *user, int32_t point, const float *rows,
                                 int64_t num_rows, int64_t channels,
                                 int64_t row_stride);

/* Observation points of the model (0 if it was not compiled for
   calibration). */
int32_t slim_model_num_observation_points(const slim_model *model);
/* Input channels of a point (0 for an index out of range). */
int64_t slim_model_observation_channels(const slim_model *model, int32_t point);
/* Names of the layers reading a point's input (NULL past the last). */
const char *slim_model_observation_layer(const slim_model *model, int32_t point,
                                         int32_t i);
/* The hash of that layer's weights when the model was compiled (XXH3, 16
   hex digits, recorded so that statistics files name their model; "" if
   model.json has none, NULL past the last layer). */
const char *slim_model_observation_weight_hash(const slim_model *model,
                                               int32_t point, int32_t i);
/* Installs (or, with NULL, removes) the observer of the model's library. */
slim_status slim_model_set_observer(slim_model *model, slim_observer_fn fn,
                                    void *user);

/* Frees an output buffer the runtime allocated and clears `data`. */
void slim_tensor_release(slim_tensor *tensor);

/* Bytes of one element (0 for an unknown type). */
size_t slim_dtype_size(slim_dtype dtype);
const char *slim_dtype_name(slim_dtype dtype);

/* The message of this thread's last error ("" if none). */
const char *slim_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* SLIM_RUNTIME_H */
