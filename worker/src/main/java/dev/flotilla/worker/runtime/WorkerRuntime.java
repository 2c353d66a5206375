package dev.flotilla.worker.runtime;

import dev.flotilla.worker.chat.ChatPrompts;
import dev.flotilla.worker.chat.ChatTemplateRenderer;
import dev.flotilla.worker.chat.ModelChatTemplate;
import dev.flotilla.worker.config.WorkerSettings;
import dev.flotilla.worker.engine.ContextParams;
import dev.flotilla.worker.engine.DeviceInfo;
import dev.flotilla.worker.engine.Devices;
import dev.flotilla.worker.engine.Model;
import dev.flotilla.worker.engine.ModelInfo;
import dev.flotilla.worker.engine.WeightDtype;
import dev.flotilla.worker.metrics.WorkerMetrics;
import dev.flotilla.worker.scheduler.AdapterCatalog;
import dev.flotilla.worker.scheduler.NativeEngineBackend;
import dev.flotilla.worker.scheduler.Pooling;
import dev.flotilla.worker.scheduler.Scheduler;
import dev.flotilla.worker.structured.OutputGrammars;
import dev.flotilla.worker.text.TextTokenizer;
import dev.flotilla.worker.text.TokenBytes;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.jboss.logging.Logger;

/**
 * A loaded model ready to serve: weights, tokenizer, engine context, adapter catalog and the
 * scheduler's engine thread. Plain Java, so tests run it without Quarkus.
 */
public final class WorkerRuntime implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(WorkerRuntime.class);

  private final WorkerSettings settings;
  private final Model model;
  private final TextTokenizer tokenizer;
  private final AdapterCatalog catalog;
  private final Scheduler scheduler;
  private final ExecutorService adapterLoader;
  private final Optional<ChatPrompts> chatPrompts;
  private final Optional<Pooling> pooling;
  private OutputGrammars outputGrammars; // guarded by this; read on first structured request

  private WorkerRuntime(
      WorkerSettings settings,
      Model model,
      TextTokenizer tokenizer,
      AdapterCatalog catalog,
      Scheduler scheduler,
      ExecutorService adapterLoader,
      Optional<ChatPrompts> chatPrompts,
      Optional<Pooling> pooling) {
    this.settings = settings;
    this.pooling = pooling;
    this.chatPrompts = chatPrompts;
    this.model = model;
    this.tokenizer = tokenizer;
    this.catalog = catalog;
    this.scheduler = scheduler;
    this.adapterLoader = adapterLoader;
  }

  /**
   * Loads the model and tokenizer and starts the engine thread. The tokenizer (Rust, through DJL)
   * is read on a thread of its own while this one reads the weights (C++): they share nothing, and
   * on a cold start each is a good part of the wait.
   *
   * @throws IOException when the tokenizer or generation config cannot be read (the message names
   *     the file)
   * @throws dev.flotilla.worker.engine.EngineException when the engine cannot load the model
   *     ({@link dev.flotilla.worker.engine.DeviceUnavailableException} when {@code FLOTILLA_DEVICE}
   *     names a GPU that is not there)
   */
  public static WorkerRuntime start(WorkerSettings settings, MeterRegistry registry)
      throws IOException {
    long t0 = System.nanoTime();
    // Read first: a malformed tokenizer_config.json fails the load before anything needs closing.
    Optional<ChatPrompts> chatPrompts =
        ModelChatTemplate.load(settings.modelDir())
            .map(
                t ->
                    new ChatPrompts(
                        t,
                        new ChatTemplateRenderer(
                            ChatTemplateRenderer.Limits.DEFAULT, Clock.systemDefaultZone())));
    Set<Integer> eos = GenerationConfig.eosTokens(settings.modelDir());
    Optional<Pooling> pooling = EmbeddingConfig.load(settings.modelDir());
    long[] tokenizerNanos = new long[1];
    FutureTask<TextTokenizer> tokenizerLoad =
        new FutureTask<>(
            () -> {
              long start = System.nanoTime();
              TextTokenizer loaded = TextTokenizer.load(settings.modelDir());
              tokenizerNanos[0] = System.nanoTime() - start;
              return loaded;
            });
    Thread tokenizerThread = new Thread(tokenizerLoad, "flotilla-tokenizer-loader");
    tokenizerThread.setDaemon(true);
    tokenizerThread.start();
    Model model;
    String device;
    try {
      device =
          DeviceSelection.resolve(
              settings.device(), Devices.cudaCount(), Devices.cudaUnavailableReason());
      // INT8 is a conversion the engine makes at load; F32/F16/BF16 are only checked below
      WeightDtype weights =
          settings.dtype().filter("INT8"::equals).isPresent()
              ? WeightDtype.INT8
              : WeightDtype.AS_STORED;
      model = Model.load(settings.modelDir(), device, weights);
    } catch (RuntimeException | Error e) {
      closeWhenLoaded(tokenizerLoad);
      throw e;
    }
    long weightsDone = System.nanoTime();
    TextTokenizer tokenizer;
    try {
      tokenizer = awaitTokenizer(tokenizerLoad);
    } catch (IOException | RuntimeException | Error e) {
      model.close();
      throw e;
    }
    long tokenizerWait = System.nanoTime() - weightsDone;
    ModelInfo info = model.info();
    settings
        .dtype()
        .filter(d -> !d.equals(info.weightDtype()))
        .ifPresent(
            d ->
                LOG.warnf(
                    "FLOTILLA_DTYPE is %s but %s holds %s weights; serving them as stored",
                    d, settings.modelDir(), info.weightDtype()));
    int context =
        settings.maxSequenceLength() == 0
            ? info.maxPositionEmbeddings()
            : Math.min(settings.maxSequenceLength(), info.maxPositionEmbeddings());
    ContextParams params =
        new ContextParams(
            settings.kvBlockSize(),
            settings.kvCacheBytes(),
            settings.stepTokens(),
            settings.maxBatchSize(),
            settings.maxLoraRank(),
            settings.threads(),
            settings.kvCacheDtype());
    ExecutorService loader =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "flotilla-adapter-loader");
              t.setDaemon(true);
              return t;
            });
    NativeEngineBackend engine;
    try {
      engine = new NativeEngineBackend(model, params);
    } catch (RuntimeException | Error e) {
      loader.shutdown();
      model.close();
      tokenizer.close();
      throw e;
    }
    AdapterCatalog catalog = new AdapterCatalog(settings.adapters());
    AtomicReference<Scheduler> ref = new AtomicReference<>();
    WorkerMetrics metrics = new WorkerMetrics(registry, () -> ref.get().snapshot());
    Scheduler scheduler =
        new Scheduler(
            engine,
            new Scheduler.Limits(
                settings.maxBatchSize(),
                settings.stepTokens(),
                settings.prefillChunk(),
                settings.maxAdapters(),
                settings.adapterHostCacheBytes(),
                context,
                eos,
                settings.prefixCache()),
            catalog,
            loader,
            metrics,
            System::nanoTime);
    ref.set(scheduler);
    if (!Devices.CPU.equals(device)) {
      int ordinal = Integer.parseInt(device.substring("cuda:".length()));
      WorkerMetrics.registerGpu(registry, device, () -> Devices.cudaInfo(ordinal));
    }
    scheduler.start("flotilla-engine");
    long done = System.nanoTime();
    LOG.infof(
        "loaded %s from %s onto %s in %d ms (tokenizer %d ms, weights %d ms, engine context %d ms; the tokenizer beside the weights, "
            + "waited %d ms for it): %s weights, vocabulary %d, context %d, %d KV blocks of %d tokens (%s, %d bytes each), adapters paged in that budget (%s resident at most) with a host tier of %d MiB, %d adapters known",
        settings.modelName(),
        settings.modelDir(),
        device,
        millis(done - t0),
        millis(tokenizerNanos[0]),
        millis(weightsDone - t0),
        millis(done - weightsDone - tokenizerWait),
        millis(tokenizerWait),
        info.weightDtype(),
        info.vocabSize(),
        scheduler.contextLength(),
        scheduler.snapshot().totalKvBlocks(),
        scheduler.snapshot().kvBlockSize(),
        settings.kvCacheDtype(),
        scheduler.snapshot().kvBytesPerBlock(),
        settings.maxAdapters() == WorkerSettings.NO_ADAPTER_CAP
            ? "memory bounds how many are"
            : String.valueOf(settings.maxAdapters()),
        settings.adapterHostCacheBytes() >> 20,
        settings.adapters().size());
    WorkerRuntime runtime =
        new WorkerRuntime(
            settings, model, tokenizer, catalog, scheduler, loader, chatPrompts, pooling);
    pooling.ifPresent(
        p ->
            LOG.infof(
                "%s is an embedding model: %s pooling%s",
                settings.modelName(), p.mode(), p.normalize() ? ", normalised" : ""));
    return runtime;
  }

  private static TextTokenizer awaitTokenizer(FutureTask<TextTokenizer> load) throws IOException {
    try {
      return load.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      closeWhenLoaded(load);
      throw new IOException("interrupted while loading the tokenizer", e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof IOException io) {
        throw io;
      }
      if (cause instanceof RuntimeException re) {
        throw re;
      }
      if (cause instanceof Error err) {
        throw err;
      }
      throw new IOException(cause);
    }
  }

  /** After a failed load: waits for the tokenizer and releases it, whatever became of it. */
  private static void closeWhenLoaded(FutureTask<TextTokenizer> load) {
    boolean interrupted = false;
    while (true) {
      try {
        load.get().close();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      } catch (ExecutionException e) {
        break; // it failed too; nothing to release
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private static long millis(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(nanos);
  }

  public WorkerSettings settings() {
    return settings;
  }

  public ModelInfo modelInfo() {
    return model.info();
  }

  /** Where the model runs: {@code cpu} or {@code cuda:N}. */
  public String device() {
    return model.info().device();
  }

  /** The GPU the model runs on, its memory now and the engine's share; empty on the CPU. */
  public Optional<DeviceInfo> gpu() {
    String device = device();
    if (Devices.CPU.equals(device)) {
      return Optional.empty();
    }
    return Optional.of(Devices.cudaInfo(Integer.parseInt(device.substring("cuda:".length()))));
  }

  /**
   * Renders chat requests with the model's own chat template; empty when the model ships none (then
   * only text and token-id prompts are served).
   */
  public Optional<ChatPrompts> chatPrompts() {
    return chatPrompts;
  }

  /**
   * How the model pools embeddings: present when its checkpoint carries a sentence-transformers
   * config ({@link EmbeddingConfig}).
   */
  public Optional<Pooling> pooling() {
    return pooling;
  }

  /**
   * The model's structured-output grammars; the vocabulary's token bytes are read from {@code
   * tokenizer.json} by the first compilation, on the grammars' own thread.
   *
   * @throws UncheckedIOException when the generation config cannot be read
   */
  public synchronized OutputGrammars outputGrammars() {
    if (outputGrammars == null) {
      try {
        outputGrammars =
            new OutputGrammars(
                () -> {
                  try {
                    return TokenBytes.load(settings.modelDir(), modelInfo().vocabSize());
                  } catch (IOException e) {
                    throw new UncheckedIOException(e);
                  }
                },
                GenerationConfig.eosTokens(settings.modelDir()),
                OutputGrammars.DEFAULT_COMPILE_LIMIT);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return outputGrammars;
  }

  public TextTokenizer tokenizer() {
    return tokenizer;
  }

  public AdapterCatalog catalog() {
    return catalog;
  }

  public Scheduler scheduler() {
    return scheduler;
  }

  /**
   * Stops admitting, waits up to {@code grace} for admitted requests to finish, then fails the rest
   * with a shutdown error.
   *
   * @return whether everything finished within the grace period
   */
  public boolean drain(Duration grace) {
    try {
      scheduler.drain().get(grace.toMillis(), TimeUnit.MILLISECONDS);
      return true;
    } catch (TimeoutException e) {
      scheduler.abortAll(
          "the worker shut down before the request finished (drain grace " + grace + " ran out)");
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException(e.getCause());
    }
  }

  @Override
  public void close() {
    scheduler.close();
    adapterLoader.shutdownNow();
    model.close();
    tokenizer.close();
  }
}
