package dev.flotilla.worker.config;

import dev.flotilla.worker.engine.Devices;
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
 * @param maxAdapters resident adapter slots
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
 */
public record WorkerSettings(
    Path modelDir,
    String modelName,
    Optional<String> dtype,
    int maxBatchSize,
    int maxSequenceLength,
    long kvCacheBytes,
    int kvBlockSize,
    int maxAdapters,
    int maxLoraRank,
    int threads,
    Map<String, Path> adapters,
    int maxStepTokens,
    int prefillChunk,
    Duration drainGrace,
    String workerId,
    String device) {

  public static final String MODEL_SOURCE = "FLOTILLA_MODEL_SOURCE (flotilla.worker.model-source)";
  public static final String DEVICE = "FLOTILLA_DEVICE (flotilla.worker.device)";
  public static final String AUTO_DEVICE = "auto";
  private static final Set<String> DTYPES = Set.of("F32", "F16", "BF16");

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
          "FLOTILLA_DTYPE (flotilla.worker.dtype) must be one of F32, F16, BF16, got '"
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
        8,
        64,
        0,
        Map.of(),
        256,
        32,
        Duration.ofSeconds(30),
        "worker",
        Devices.CPU);
  }

  /** Validates the configuration; every error names the setting. */
  public static WorkerSettings from(WorkerConfig config) {
    String source =
        config
            .modelSource()
            .filter(s -> !s.isBlank())
            .orElseThrow(
                () ->
                    new WorkerConfigException(
                        MODEL_SOURCE + " is not set: give the model directory as file:///path"));
    Path modelDir = Sources.existingDirectory(source, MODEL_SOURCE);
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
    Map<String, Path> adapters = new LinkedHashMap<>();
    config
        .adaptersDir()
        .filter(s -> !s.isBlank())
        .ifPresent(
            dir ->
                adapters.putAll(
                    Sources.adapterDirectory(
                        Sources.existingDirectory(
                            dir, "FLOTILLA_ADAPTERS_DIR (flotilla.worker.adapters-dir)"),
                        "FLOTILLA_ADAPTERS_DIR (flotilla.worker.adapters-dir)")));
    config
        .adapters()
        .filter(s -> !s.isBlank())
        .ifPresent(
            list ->
                adapters.putAll(
                    Sources.adapterList(list, "FLOTILLA_ADAPTERS (flotilla.worker.adapters)")));
    return new WorkerSettings(
        modelDir,
        config.modelName().filter(s -> !s.isBlank()).orElse(modelDir.getFileName().toString()),
        config.dtype().filter(s -> !s.isBlank()).map(s -> s.trim().toUpperCase(Locale.ROOT)),
        config.maxBatchSize(),
        config.maxSequenceLength(),
        config.kvCacheBytes(),
        config.kvBlockSize(),
        config.maxAdapters(),
        config.maxLoraRank(),
        config.threads(),
        adapters,
        config.maxStepTokens(),
        config.prefillChunk(),
        config.drainGrace(),
        config.workerId().filter(s -> !s.isBlank()).orElseGet(WorkerSettings::hostName),
        config.device().trim().toLowerCase(Locale.ROOT));
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
        maxAdapters,
        maxLoraRank,
        threads,
        adapters,
        maxStepTokens,
        prefillChunk,
        drainGrace,
        workerId,
        device);
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
        maxAdapters,
        maxLoraRank,
        threads,
        adapters,
        maxStepTokens,
        prefillChunk,
        drainGrace,
        workerId,
        device);
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
        maxAdapters,
        maxLoraRank,
        threads,
        adapters,
        maxStepTokens,
        prefillChunk,
        drainGrace,
        workerId,
        device);
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
        value,
        maxLoraRank,
        threads,
        adapters,
        maxStepTokens,
        prefillChunk,
        drainGrace,
        workerId,
        device);
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
        maxAdapters,
        maxLoraRank,
        value,
        adapters,
        maxStepTokens,
        prefillChunk,
        drainGrace,
        workerId,
        device);
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
        maxAdapters,
        maxLoraRank,
        threads,
        value,
        maxStepTokens,
        prefillChunk,
        drainGrace,
        workerId,
        device);
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
        maxAdapters,
        maxLoraRank,
        threads,
        adapters,
        maxStepTokens,
        prefillChunk,
        value,
        workerId,
        device);
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
        maxAdapters,
        maxLoraRank,
        threads,
        adapters,
        maxStepTokens,
        prefillChunk,
        drainGrace,
        workerId,
        value);
  }
}
