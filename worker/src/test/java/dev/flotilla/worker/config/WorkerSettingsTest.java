package dev.flotilla.worker.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flotilla.worker.engine.KvDtype;
import dev.flotilla.worker.fetch.Source;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Settings as the operator gives them, and the errors a person reads when one is wrong. */
class WorkerSettingsTest {
  @TempDir Path dir;

  /** A WorkerConfig with application.properties' defaults and the given overrides. */
  record Config(
      Optional<String> modelSource,
      Optional<String> modelName,
      Optional<String> dtype,
      int maxBatchSize,
      int maxSequenceLength,
      long kvCacheBytes,
      int kvBlockSize,
      OptionalInt maxAdapters,
      long adapterHostCacheBytes,
      int maxLoraRank,
      int threads,
      Optional<String> adapters,
      Optional<String> adaptersDir,
      int maxStepTokens,
      int prefillChunk,
      Duration drainGrace,
      Optional<String> workerId,
      String device,
      String kvCacheDtype)
      implements WorkerConfig {

    @Override
    public boolean prefixCache() {
      return true;
    }

    static Config of(String source) {
      return new Config(
          Optional.ofNullable(source),
          Optional.empty(),
          Optional.empty(),
          32,
          0,
          256L << 20,
          16,
          OptionalInt.empty(),
          2L << 30,
          64,
          0,
          Optional.empty(),
          Optional.empty(),
          256,
          32,
          Duration.ofSeconds(30),
          Optional.of("w-1"),
          "cpu",
          "bf16");
    }

    Config device(String value) {
      return new Config(
          modelSource,
          modelName,
          dtype,
          maxBatchSize,
          maxSequenceLength,
          kvCacheBytes,
          kvBlockSize,
          maxAdapters,
          adapterHostCacheBytes,
          maxLoraRank,
          threads,
          adapters,
          adaptersDir,
          maxStepTokens,
          prefillChunk,
          drainGrace,
          workerId,
          value,
          kvCacheDtype);
    }

    Config adapters(String list, String adaptersDir) {
      return new Config(
          modelSource,
          modelName,
          dtype,
          maxBatchSize,
          maxSequenceLength,
          kvCacheBytes,
          kvBlockSize,
          maxAdapters,
          adapterHostCacheBytes,
          maxLoraRank,
          threads,
          Optional.ofNullable(list),
          Optional.ofNullable(adaptersDir),
          maxStepTokens,
          prefillChunk,
          drainGrace,
          workerId,
          device,
          kvCacheDtype);
    }

    Config batch(int value) {
      return new Config(
          modelSource,
          modelName,
          dtype,
          value,
          maxSequenceLength,
          kvCacheBytes,
          kvBlockSize,
          maxAdapters,
          adapterHostCacheBytes,
          maxLoraRank,
          threads,
          adapters,
          adaptersDir,
          maxStepTokens,
          prefillChunk,
          drainGrace,
          workerId,
          device,
          kvCacheDtype);
    }

    Config kvCacheDtype(String value) {
      return new Config(
          modelSource,
          modelName,
          dtype,
          maxBatchSize,
          maxSequenceLength,
          kvCacheBytes,
          kvBlockSize,
          maxAdapters,
          adapterHostCacheBytes,
          maxLoraRank,
          threads,
          adapters,
          adaptersDir,
          maxStepTokens,
          prefillChunk,
          drainGrace,
          workerId,
          device,
          value);
    }

    Config dtype(String value) {
      return new Config(
          modelSource,
          modelName,
          Optional.of(value),
          maxBatchSize,
          maxSequenceLength,
          kvCacheBytes,
          kvBlockSize,
          maxAdapters,
          adapterHostCacheBytes,
          maxLoraRank,
          threads,
          adapters,
          adaptersDir,
          maxStepTokens,
          prefillChunk,
          drainGrace,
          workerId,
          device,
          kvCacheDtype);
    }
  }

  private Path model() throws Exception {
    Path m = Files.createDirectories(dir.resolve("models/tiny"));
    Files.writeString(m.resolve("config.json"), "{}");
    Files.writeString(m.resolve("tokenizer.json"), "{}");
    return m;
  }

  private WorkerSettings from(WorkerConfig config) {
    return WorkerSettings.from(config, dir.resolve("pvc"));
  }

  @Test
  void readsAPvcSourceUnderTheClaimsMountAndDefersDownloadedSources() throws Exception {
    Path model = model();
    Path claim = Files.createDirectories(dir.resolve("pvc/models/llama"));
    for (String f : new String[] {"config.json", "tokenizer.json"}) {
      Files.copy(model.resolve(f), claim.resolve(f));
    }
    Path adapter = Files.createDirectories(dir.resolve("pvc/adapters/sql"));
    WorkerSettings s =
        from(Config.of("pvc://models/llama").adapters("sql=pvc://adapters/sql", null));
    assertThat(s.modelDir()).isEqualTo(claim);
    assertThat(s.modelName()).isEqualTo("llama");
    assertThat(s.adapters()).containsExactlyEntriesOf(Map.of("sql", adapter));
    assertThatThrownBy(() -> from(Config.of("pvc://models/../../etc")))
        .hasMessageContaining("leaves its claim");

    WorkerSettings hub = from(Config.of("hf://org/Tiny-Llama@v1"));
    assertThat(hub.modelDir()).isNull();
    assertThat(hub.modelSource()).isEqualTo(new Source.Hub("org/Tiny-Llama", "v1"));
    assertThat(hub.modelName()).isEqualTo("Tiny-Llama");
    assertThat(hub.withModelDir(model).modelDir()).isEqualTo(model);
    WorkerSettings s3 = from(Config.of("s3://models-bucket/team/llama-8b/"));
    assertThat(s3.modelSource()).isEqualTo(new Source.S3("models-bucket", "team/llama-8b/"));
    assertThat(s3.modelName()).isEqualTo("llama-8b");
    assertThatThrownBy(
            () -> from(Config.of(model.toString()).adapters("sql=hf://org/sql-lora", null)))
        .hasMessageContaining("FLOTILLA_ADAPTERS (flotilla.worker.adapters) entry sql")
        .hasMessageContaining("is downloaded");
  }

  @Test
  void readsAFileSourceAndAdapterLists() throws Exception {
    Path model = model();
    Path a = Files.createDirectories(dir.resolve("adapters/support"));
    Files.writeString(a.resolve("adapter_config.json"), "{}");
    Files.createDirectories(dir.resolve("adapters/not-an-adapter"));
    WorkerSettings s =
        from(
            Config.of("file://" + model)
                .adapters(
                    "legal=file:///srv/legal, sql=/srv/sql", dir.resolve("adapters").toString()));
    assertThat(s.modelDir()).isEqualTo(model);
    assertThat(s.modelName()).isEqualTo("tiny");
    assertThat(s.workerId()).isEqualTo("w-1");
    assertThat(s.adapters())
        .containsExactlyInAnyOrderEntriesOf(
            Map.of("support", a, "legal", Path.of("/srv/legal"), "sql", Path.of("/srv/sql")));
    assertThat(s.stepTokens()).isEqualTo(256);
    assertThat(from(Config.of(model.toString()).batch(512)).stepTokens()).isEqualTo(512);
    // INT8: the worker quantizes at load
    assertThat(from(Config.of(model.toString()).dtype("INT8")).dtype()).contains("INT8");
  }

  @Test
  void deviceIsAutoCpuOrANumberedGpu() throws Exception {
    Path model = model();
    assertThat(from(Config.of("file://" + model)).device()).isEqualTo("cpu");
    assertThat(from(Config.of("file://" + model).device("auto")).device()).isEqualTo("auto");
    assertThat(from(Config.of("file://" + model).device(" CUDA:1 ")).device()).isEqualTo("cuda:1");
    for (String bad : new String[] {"gpu", "cuda", "cuda:-1", "cuda:01", "cuda:1024", ""}) {
      assertThatThrownBy(() -> from(Config.of("file://" + model).device(bad)))
          .isInstanceOf(WorkerConfigException.class)
          .hasMessageContaining("FLOTILLA_DEVICE")
          .hasMessageContaining("auto, cpu or cuda:N")
          .hasMessageContaining("'" + bad + "'");
    }
  }

  @Test
  void kvCacheDtypeIsBf16UnlessF32IsAsked() throws Exception {
    Path model = model();
    assertThat(from(Config.of("file://" + model)).kvCacheDtype()).isEqualTo(KvDtype.BF16);
    assertThat(WorkerSettings.forModel(model).kvCacheDtype()).isEqualTo(KvDtype.BF16);
    assertThat(from(Config.of("file://" + model).kvCacheDtype(" F32 ")).kvCacheDtype())
        .isEqualTo(KvDtype.F32);
    assertThatThrownBy(() -> from(Config.of("file://" + model).kvCacheDtype("fp8")))
        .isInstanceOf(WorkerConfigException.class)
        .hasMessage(
            "FLOTILLA_KV_CACHE_DTYPE (flotilla.worker.kv-cache-dtype): KV cache dtype must be bf16"
                + " or f32, got 'fp8'");
  }

  @Test
  void namesTheSettingInEveryError() throws Exception {
    assertThatThrownBy(() -> from(Config.of(null)))
        .isInstanceOf(WorkerConfigException.class)
        .hasMessageContaining("FLOTILLA_MODEL_SOURCE")
        .hasMessageContaining("not set");
    assertThatThrownBy(() -> from(Config.of("file://" + dir.resolve("missing"))))
        .hasMessageContaining("FLOTILLA_MODEL_SOURCE")
        .hasMessageContaining("is not a directory");
    assertThatThrownBy(() -> from(Config.of("ftp://host/model")))
        .hasMessageContaining("FLOTILLA_MODEL_SOURCE")
        .hasMessageContaining("give file://, pvc://, hf:// or s3://");
    assertThatThrownBy(() -> from(Config.of("hf://no-org")))
        .hasMessageContaining("FLOTILLA_MODEL_SOURCE")
        .hasMessageContaining("hf://ORG/REPO");
    Path empty = Files.createDirectories(dir.resolve("empty"));
    assertThatThrownBy(() -> from(Config.of(empty.toString())))
        .hasMessageContaining("has no config.json");
    Path model = model();
    assertThatThrownBy(() -> from(Config.of(model.toString()).batch(0)))
        .hasMessageContaining("FLOTILLA_MAX_BATCH_SIZE")
        .hasMessageContaining("got 0");
    assertThatThrownBy(() -> from(Config.of(model.toString()).dtype("INT4")))
        .hasMessageContaining("FLOTILLA_DTYPE")
        .hasMessageContaining("F32, F16, BF16, INT8, got 'INT4'");
    assertThatThrownBy(() -> from(Config.of(model.toString()).adapters("broken-entry", null)))
        .hasMessageContaining("FLOTILLA_ADAPTERS")
        .hasMessageContaining("name=file:///dir");
    assertThatThrownBy(() -> from(Config.of(model.toString()).adapters(null, "/no/such/dir")))
        .hasMessageContaining("FLOTILLA_ADAPTERS_DIR");
  }
}
