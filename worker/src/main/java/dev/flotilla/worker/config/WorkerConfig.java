package dev.flotilla.worker.config;

import io.smallrye.config.ConfigMapping;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The worker's settings, prefix {@code flotilla.worker}. The operator sets them as the environment
 * variables named on each method; {@code application.properties} maps those names onto these
 * properties and holds the defaults, so {@code FLOTILLA_MAX_BATCH_SIZE} and {@code
 * FLOTILLA_WORKER_MAX_BATCH_SIZE} (or {@code -Dflotilla.worker.max-batch-size}) all work. {@link
 * WorkerSettings#from(WorkerConfig)} checks them and names the setting in every error.
 */
@ConfigMapping(prefix = "flotilla.worker")
public interface WorkerConfig {

  /** {@code FLOTILLA_MODEL_SOURCE}: the model directory, {@code file:///path} or a plain path. */
  Optional<String> modelSource();

  /**
   * {@code FLOTILLA_MODEL_NAME}: the base model's name, as adapters name it; defaults to the
   * directory name.
   */
  Optional<String> modelName();

  /**
   * {@code FLOTILLA_DTYPE}: the weight dtype the deployment expects (F32, F16, BF16), checked
   * against the files; or INT8, which quantizes F32/F16/BF16 weights to int8 at load (a
   * compressed-tensors int8 checkpoint loads as int8 either way).
   */
  Optional<String> dtype();

  /** {@code FLOTILLA_MAX_BATCH_SIZE}: most sequences running at once. */
  int maxBatchSize();

  /**
   * {@code FLOTILLA_MAX_SEQUENCE_LENGTH}: prompt plus generated tokens; 0 means the model's
   * maximum.
   */
  int maxSequenceLength();

  /** {@code FLOTILLA_KV_CACHE_BYTES}: one budget for the KV cache and the resident adapters. */
  long kvCacheBytes();

  /** {@code FLOTILLA_KV_BLOCK_SIZE}: tokens per KV block. */
  int kvBlockSize();

  /**
   * {@code FLOTILLA_KV_CACHE_DTYPE}: the KV cache's element type, {@code bf16} (the default: twice
   * the positions of {@code f32} in the same bytes) or {@code f32}. A GPU keeps BF16 only.
   */
  String kvCacheDtype();

  /**
   * {@code FLOTILLA_MAX_ADAPTERS}: an optional cap on adapters resident at once. Unset (the
   * default), the KV budget alone bounds them; 0 serves the base model only.
   */
  OptionalInt maxAdapters();

  /**
   * {@code FLOTILLA_ADAPTER_HOST_CACHE_BYTES}: host memory for adapters evicted from the pool, so
   * bringing one back reads no disk; 0 frees evicted adapters.
   */
  long adapterHostCacheBytes();

  /** {@code FLOTILLA_MAX_LORA_RANK}: largest adapter rank accepted. */
  int maxLoraRank();

  /** {@code FLOTILLA_THREADS}: engine compute threads; 0 means one per core. */
  int threads();

  /** {@code FLOTILLA_ADAPTERS}: known adapters, {@code name=file:///dir,name2=/dir2}. */
  Optional<String> adapters();

  /**
   * {@code FLOTILLA_ADAPTERS_DIR}: every subdirectory holding an adapter_config.json is an adapter
   * of that name.
   */
  Optional<String> adaptersDir();

  /**
   * {@code FLOTILLA_MAX_STEP_TOKENS}: rows one engine step carries (decodes first, then prefill
   * chunks).
   */
  int maxStepTokens();

  /**
   * {@code FLOTILLA_PREFILL_CHUNK}: prompt tokens a step prefills beside decodes when few sequences
   * decode (with more, up to one per decoding sequence).
   */
  int prefillChunk();

  /** {@code FLOTILLA_DRAIN_GRACE}: how long shutdown waits for admitted requests to finish. */
  Duration drainGrace();

  /** {@code FLOTILLA_WORKER_ID}: the name in Stats; defaults to the host name. */
  Optional<String> workerId();

  /**
   * {@code FLOTILLA_DEVICE}: where the model runs: {@code cpu} (the default while the CUDA backend
   * has not passed {@code bench/gpu/run.sh}), {@code auto} (the first GPU when one is visible, else
   * the CPU) or {@code cuda:N}. A named GPU that is not there fails the load; the worker never
   * falls back to the CPU.
   */
  String device();

  /**
   * {@code FLOTILLA_PREFIX_CACHE}: whether a new request reuses the KV blocks the engine holds for
   * its prompt's longest cached prefix (same adapter, same tokens) and computes only the rest;
   * {@code true} by default. Off, every prompt is computed in full.
   */
  boolean prefixCache();
}
