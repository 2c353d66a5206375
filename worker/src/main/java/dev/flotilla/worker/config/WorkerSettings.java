package dev.flotilla.worker.config;

import dev.flotilla.worker.engine.Devices;
import dev.flotilla.worker.engine.KvDtype;
import dev.flotilla.worker.fetch.Source;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Checked worker settings: what {@link WorkerConfig} says, validated, with sources resolved to
 * directories. Tests build one directly with {@link #forModel(Path)} and the {@code with*} methods.
 *
 * @param modelDir the model directory (config.json, safetensors, tokenizer.json)
 * @param modelName the base model's name adapters are checked against
 * @param dtype the weight dtype the deployment expects, if it says one
 * @param maxBatchSize most sequences running at once
 * @param maxSequenceLength prompt plus generated tokens; 0 = the model's maximum
 * @param kvCacheBytes one budget for KV blocks and resident adapters
 * @param kvBlockSize tokens per KV block
 * @param kvCacheDtype element type of the KV cache: BF16 (the default) holds twice the positions of
 *     F32 in the same bytes
 * @param maxAdapters most adapters resident at once: {@link #NO_ADAPTER_CAP} (the default) when the
 *     KV budget alone bounds them, 0 for none
 * @param adapterHostCacheBytes host memory for adapters evicted from the pool
 * @param maxLoraRank largest adapter rank accepted
 * @param threads engine compute threads; 0 = one per core
 * @param adapters adapters known at startup, by name
 * @param maxStepTokens rows one engine step carries (at least {@code maxBatchSize} are used, see
 *     {@link #stepTokens()})
 * @param prefillChunk prompt rows a step carries beside decodes (or one per decode, if more)
 * @param drainGrace how long shutdown waits for admitted requests
 * @param workerId the name reported in Stats
 * @param device {@code auto}, {@code cpu} or {@code cuda:N} ({@link
 *     dev.flotilla.worker.runtime.DeviceSelection} resolves {@code auto})
 * @param modelSource where the model comes from; {@code modelDir} is null until a downloaded source
 *     is fetched ({@link #withModelDir})
 * @param prefixCache whether a new sequence reuses the KV blocks cached for its prompt's prefix
 */
public record WorkerSettings(
    Path modelDir,
    String modelName,
    Optional<String> dtype,
    int maxBatchSize,
    int maxSequenceLength,
    long kvCacheBytes,
    int kvBlockSize,
    KvDtype kvCacheDtype,
    int maxAdapters,
    long adapterHostCacheBytes,
    int maxLoraRank,
    int threads,
    Map<String, Path> adapters,
    int maxStepTokens,
    int prefillChunk,
    Duration drainGrace,
    String workerId,
    String device,
    Source modelSource,
    boolean prefixCache) {

  public static final String MODEL_SOURCE = "FLOTILLA_MODEL_SOURCE (flotilla.worker.model-source)";
  public static final String DEVICE = "FLOTILLA_DEVICE (flotilla.worker.device)";
  public static final String KV_CACHE_DTYPE =
      "FLOTILLA_KV_CACHE_DTYPE (flotilla.worker.kv-cache-dtype)";
  public static final String AUTO_DEVICE = "auto";

  /** {@link #maxAdapters} when no count bounds resident adapters: memory does. */
  public static final int NO_ADAPTER_CAP = Integer.MAX_VALUE;

  private static final Set<String> DTYPES = Set.of("F32", "F16", "BF16", "INT8");

  public WorkerSettings {
    adapters = Map.copyOf(new LinkedHashMap<>(adapters));
    require(
        maxBatchSize >= 1 && maxBatchSize <= 1024,
        "FLOTILLA_MAX_BATCH_SIZE (flotilla.worker.max-batch-size)",
        "must be in 1..1024",
        maxBatchSize);
    require(
        maxSequenceLength >= 0,
        "FLOTILLA_MAX_SEQUENCE_LENGTH (flotilla.worker.max-sequence-length)",
        "must be >= 0 (0 = the model's maximum)",
        maxSequenceLength);
    require(
        kvCacheBytes > 0,
        "FLOTILLA_KV_CACHE_BYTES (flotilla.worker.kv-cache-bytes)",
        "must be > 0",
        kvCacheBytes);
    require(
        kvBlockSize >= 1 && kvBlockSize <= 1024,
        "FLOTILLA_KV_BLOCK_SIZE (flotilla.worker.kv-block-size)",
        "must be in 1..1024",
        kvBlockSize);
    require(
        maxAdapters >= 0,
        "FLOTILLA_MAX_ADAPTERS (flotilla.worker.max-adapters)",
        "must be >= 0",
        maxAdapters);
    require(
        adapterHostCacheBytes >= 0,
        "FLOTILLA_ADAPTER_HOST_CACHE_BYTES (flotilla.worker.adapter-host-cache-bytes)",
        "must be >= 0",
        adapterHostCacheBytes);
    require(
        maxLoraRank >= 1 && maxLoraRank <= 256,
        "FLOTILLA_MAX_LORA_RANK (flotilla.worker.max-lora-rank)",
        "must be in 1..256",
        maxLoraRank);
    require(
        threads >= 0,
        "FLOTILLA_THREADS (flotilla.worker.threads)",
        "must be >= 0 (0 = one per core)",
        threads);
    require(
        maxStepTokens >= 1,
        "FLOTILLA_MAX_STEP_TOKENS (flotilla.worker.max-step-tokens)",
        "must be >= 1",
        maxStepTokens);
    require(
        prefillChunk >= 1,
        "FLOTILLA_PREFILL_CHUNK (flotilla.worker.prefill-chunk)",
        "must be >= 1",
        prefillChunk);
    if (drainGrace.isNegative()) {
      throw new WorkerConfigException(
          "FLOTILLA_DRAIN_GRACE (flotilla.worker.drain-grace) must not be negative, got "
              + drainGrace);
    }
    if (!AUTO_DEVICE.equals(device) && !Devices.isValid(device)) {
      throw new WorkerConfigException(
          DEVICE + " must be auto, cpu or cuda:N (N a GPU ordinal), got '" + device + "'");
    }
    if (dtype.isPresent() && !DTYPES.contains(dtype.get())) {
      throw new WorkerConfigException(
          "FLOTILLA_DTYPE (flotilla.worker.dtype) must be one of F32, F16, BF16, INT8, got '"
              + dtype.get()
              + "'");
    }
  }

  /**
   * Rows per engine step: never fewer than the batch size, so every running sequence, decoding or
   * prefilling, gets at least one row each step.
   */
  public int stepTokens() {
    return Math.max(maxStepTokens, maxBatchSize);
  }

  private static void require(boolean ok, String setting, String rule, long value) {
    if (!ok) {
      throw new WorkerConfigException(setting + " " + rule + ", got " + value);
    }
  }

  /** Defaults for a model directory (as application.properties has them), for tests and tools. */
  public static WorkerSettings forModel(Path modelDir) {
    return new WorkerSettings(
        modelDir,
        modelDir.getFileName().toString(),
        Optional.empty(),
        32,
        0,
        256L << 20,
        16,
        KvDtype.BF16,
        NO_ADAPTER_CAP,
        2L << 30,
        64,
        0,
        Map.of(),
        256,
        32,
        Duration.ofSeconds(30),
        "worker",
        Devices.CPU,
        new Source.Local(modelDir),
        true);
  }

  /**
   * Validates the configuration; every error names the setting. A model in a local directory
   * ({@code file://}, {@code pvc://}) is checked now; a downloaded one ({@code hf://}, {@code
   * s3://}) once fetched.
   *
   * @param pvcRoot where {@code pvc://CLAIM} is mounted
   */
  public static WorkerSettings from(WorkerConfig config, Path pvcRoot) {
    String text =
        config
            .modelSource()
            .filter(s -> !s.isBlank())
            .orElseThrow(
                () ->
                    new WorkerConfigException(
                        MODEL_SOURCE
                            + " is not set: give file:///dir, pvc://CLAIM/dir, hf://ORG/REPO or"
                            + " s3://BUCKET/prefix"));
    Source source;
    try {
      source = Source.parse(text, pvcRoot);
    } catch (IllegalArgumentException e) {
      throw new WorkerConfigException(MODEL_SOURCE + ": " + e.getMessage(), e);
    }
    Path modelDir = null;
    if (source instanceof Source.Local local) {
      modelDir = Sources.existingDirectory(local.dir(), MODEL_SOURCE);
      checkModelDir(modelDir);
    }
    Map<String, Path> adapters = new LinkedHashMap<>();
    config
        .adaptersDir()
        .filter(s -> !s.isBlank())
        .ifPresent(
            dir ->
                adapters.putAll(
                    Sources.adapterDirectory(
                        Sources.existingDirectory(
                            Sources.localDirectory(
                                dir,
                                pvcRoot,
                                "FLOTILLA_ADAPTERS_DIR (flotilla.worker.adapters-dir)"),
                            "FLOTILLA_ADAPTERS_DIR (flotilla.worker.adapters-dir)"),
                        "FLOTILLA_ADAPTERS_DIR (flotilla.worker.adapters-dir)")));
    config
        .adapters()
        .filter(s -> !s.isBlank())
        .ifPresent(
            list ->
                adapters.putAll(
                    Sources.adapterList(
                        list, pvcRoot, "FLOTILLA_ADAPTERS (flotilla.worker.adapters)")));
    return new WorkerSettings(
        modelDir,
        config.modelName().filter(s -> !s.isBlank()).orElse(defaultName(source)),
        config.dtype().filter(s -> !s.isBlank()).map(s -> s.trim().toUpperCase(Locale.ROOT)),
        config.maxBatchSize(),
        config.maxSequenceLength(),
        config.kvCacheBytes(),
        config.kvBlockSize(),
        kvDtype(config.kvCacheDtype()),
        config.maxAdapters().orElse(NO_ADAPTER_CAP),
        config.adapterHostCacheBytes(),
        config.maxLoraRank(),
        config.threads(),
        adapters,
        config.maxStepTokens(),
        config.prefillChunk(),
        config.drainGrace(),
        config.workerId().filter(s -> !s.isBlank()).orElseGet(WorkerSettings::hostName),
        config.device().trim().toLowerCase(Locale.ROOT),
        source,
        config.prefixCache());
  }

  private static KvDtype kvDtype(String value) {
    try {
      return KvDtype.parse(value);
    } catch (IllegalArgumentException e) {
      throw new WorkerConfigException(KV_CACHE_DTYPE + ": " + e.getMessage(), e);
    }
  }

  /** A model directory has what the engine and the tokenizer read first. */
  public static void checkModelDir(Path modelDir) {
    if (!Files.isRegularFile(modelDir.resolve("config.json"))) {
      throw new WorkerConfigException(
          MODEL_SOURCE
              + ": "
              + modelDir
              + " has no config.json (not a Hugging Face model directory)");
    }
    if (!Files.isRegularFile(modelDir.resolve("tokenizer.json"))) {
      throw new WorkerConfigException(MODEL_SOURCE + ": " + modelDir + " has no tokenizer.json");
    }
  }

  /** The last part of the source's path: the directory, repository or prefix name. */
  private static String defaultName(Source source) {
    if (source instanceof Source.Local local) {
      return local.dir().getFileName().toString();
    }
    if (source instanceof Source.Hub hub) {
      return hub.repo().substring(hub.repo().indexOf('/') + 1);
    }
    Source.S3 s3 = (Source.S3) source;
    String[] parts = s3.prefix().split("/");
    for (int i = parts.length - 1; i >= 0; i--) {
      if (!parts[i].isEmpty()) {
        return parts[i];
      }
    }
    return s3.bucket();
  }

  /** These settings with the model's files at {@code dir} (once a download is done). */
  public WorkerSettings withModelDir(Path dir) {
    return new WorkerSettings(
        dir,
        modelName,
        dtype,
        maxBatchSize,
        maxSequenceLength,
        kvCacheBytes,
        kvBlockSize,
        kvCacheDtype,
        maxAdapters,
        adapterHostCacheBytes,
        maxLoraRank,
        threads,
        adapters,
        maxStepTokens,
        prefillChunk,
        drainGrace,
        workerId,
        device,
        modelSource,
        prefixCache);
  }

  private static String hostName() {
    String env = System.getenv("HOSTNAME");
    if (env != null && !env.isBlank()) {
      return env;
    }
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (java.io.IOException e) {
      return "worker";
    }
  }

  public WorkerSettings withModelName(String value) {
    return new WorkerSettings(
        modelDir,
        value,
        dtype,
        maxBatchSize,
        maxSequenceLength,
        kvCacheBytes,
        kvBlockSize,
        kvCacheDtype,
        maxAdapters,
        adapterHostCacheBytes,
        maxLoraRank,
        threads,
        adapters,
        maxStepTokens,
        prefillChunk,
        drainGrace,
        workerId,
        device,
        modelSource,
        prefixCache);
  }

  public WorkerSettings withMaxBatchSize(int value) {
    return new WorkerSettings(
        modelDir,
        modelName,
        dtype,
        value,
        maxSequenceLength,
        kvCacheBytes,
        kvBlockSize,
        kvCacheDtype,
        maxAdapters,
        adapterHostCacheBytes,
        maxLoraRank,
        threads,
        adapters,
        maxStepTokens,
        prefillChunk,
        drainGrace,
        workerId,
        device,
        modelSource,
        prefixCache);
  }

  public WorkerSettings withKvCacheBytes(long value) {
    return new WorkerSettings(
        modelDir,
        modelName,
        dtype,
        maxBatchSize,
        maxSequenceLength,
        value,
        kvBlockSize,
        kvCacheDtype,
        maxAdapters,
        adapterHostCacheBytes,
        maxLoraRank,
        threads,
        adapters,
        maxStepTokens,
        prefillChunk,
        drainGrace,
        workerId,
        device,
        modelSource,
        prefixCache);
  }

  public WorkerSettings withKvCacheDtype(KvDtype value) {
    return new WorkerSettings(
        modelDir,
        modelName,
        dtype,
        maxBatchSize,
        maxSequenceLength,
        kvCacheBytes,
        kvBlockSize,
        value,
        maxAdapters,
        adapterHostCacheBytes,
        maxLoraRank,
        threads,
        adapters,
        maxStepTokens,
        prefillChunk,
        drainGrace,
        workerId,
        device,
        modelSource,
        prefixCache);
  }

  public WorkerSettings withMaxAdapters(int value) {
    return new WorkerSettings(
        modelDir,
        modelName,
        dtype,
        maxBatchSize,
        maxSequenceLength,
        kvCacheBytes,
        kvBlockSize,
        kvCacheDtype,
        value,
        adapterHostCacheBytes,
        maxLoraRank,
        threads,
        adapters,
        maxStepTokens,
        prefillChunk,
        drainGrace,
        workerId,
        device,
        modelSource,
        prefixCache);
  }

  public WorkerSettings withThreads(int value) {
    return new WorkerSettings(
        modelDir,
        modelName,
        dtype,
        maxBatchSize,
        maxSequenceLength,
        kvCacheBytes,
        kvBlockSize,
        kvCacheDtype,
        maxAdapters,
        adapterHostCacheBytes,
        maxLoraRank,
        value,
        adapters,
        maxStepTokens,
        prefillChunk,
        drainGrace,
        workerId,
        device,
        modelSource,
        prefixCache);
  }

  public WorkerSettings withAdapters(Map<String, Path> value) {
    return new WorkerSettings(
        modelDir,
        modelName,
        dtype,
        maxBatchSize,
        maxSequenceLength,
        kvCacheBytes,
        kvBlockSize,
        kvCacheDtype,
        maxAdapters,
        adapterHostCacheBytes,
        maxLoraRank,
        threads,
        value,
        maxStepTokens,
        prefillChunk,
        drainGrace,
        workerId,
        device,
        modelSource,
        prefixCache);
  }

  public WorkerSettings withDrainGrace(Duration value) {
    return new WorkerSettings(
        modelDir,
        modelName,
        dtype,
        maxBatchSize,
        maxSequenceLength,
        kvCacheBytes,
        kvBlockSize,
        kvCacheDtype,
        maxAdapters,
        adapterHostCacheBytes,
        maxLoraRank,
        threads,
        adapters,
        maxStepTokens,
        prefillChunk,
        value,
        workerId,
        device,
        modelSource,
        prefixCache);
  }

  public WorkerSettings withDevice(String value) {
    return new WorkerSettings(
        modelDir,
        modelName,
        dtype,
        maxBatchSize,
        maxSequenceLength,
        kvCacheBytes,
        kvBlockSize,
        kvCacheDtype,
        maxAdapters,
        adapterHostCacheBytes,
        maxLoraRank,
        threads,
        adapters,
        maxStepTokens,
        prefillChunk,
        drainGrace,
        workerId,
        value,
        modelSource,
        prefixCache);
  }

  public WorkerSettings withPrefixCache(boolean value) {
    return new WorkerSettings(
        modelDir,
        modelName,
        dtype,
        maxBatchSize,
        maxSequenceLength,
        kvCacheBytes,
        kvBlockSize,
        kvCacheDtype,
        maxAdapters,
        adapterHostCacheBytes,
        maxLoraRank,
        threads,
        adapters,
        maxStepTokens,
        prefillChunk,
        drainGrace,
        workerId,
        device,
        modelSource,
        value);
  }
}
