package dev.flotilla.worker.service;

import dev.flotilla.api.prefix.PrefixKeys;
import dev.flotilla.api.worker.v1.GenerateStreamRequest;
import dev.flotilla.api.worker.v1.GenerateStreamResponse;
import dev.flotilla.api.worker.v1.LoadAdapterRequest;
import dev.flotilla.api.worker.v1.LoadAdapterResponse;
import dev.flotilla.api.worker.v1.StatsRequest;
import dev.flotilla.api.worker.v1.UnloadAdapterRequest;
import dev.flotilla.api.worker.v1.UnloadAdapterResponse;
import dev.flotilla.api.worker.v1.WorkerEmbedRequest;
import dev.flotilla.api.worker.v1.WorkerEmbedResponse;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.api.worker.v1.WorkerGenerateResponse;
import dev.flotilla.api.worker.v1.WorkerGrpc;
import dev.flotilla.api.worker.v1.WorkerStats;
import dev.flotilla.worker.fetch.Fetcher;
import dev.flotilla.worker.fetch.FileSet;
import dev.flotilla.worker.fetch.Progress;
import dev.flotilla.worker.fetch.Source;
import dev.flotilla.worker.runtime.WorkerHolder;
import dev.flotilla.worker.runtime.WorkerRuntime;
import dev.flotilla.worker.scheduler.Scheduler;
import dev.flotilla.worker.scheduler.SchedulerSnapshot;
import dev.flotilla.worker.scheduler.Sequence;
import dev.flotilla.worker.scheduler.SequenceRequest;
import dev.flotilla.worker.scheduler.TokenConstraint;
import dev.flotilla.workerlink.GenerateStreamServer;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.impl.ContextInternal;
import jakarta.inject.Inject;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.jboss.logging.Logger;

/**
 * {@code flotilla.worker.v1.Worker}: Generate streams tokens from the scheduler; Embed pools the
 * final hidden states of its inputs, scheduled with generation traffic; LoadAdapter and
 * UnloadAdapter manage adapter slots (an {@code hf://} or {@code s3://} adapter is downloaded
 * first); Stats streams the scheduler's state. Nothing here blocks a gRPC thread: requests are
 * checked, queued, and answered from the engine thread or a download thread.
 */
@GrpcService
public class WorkerGrpcService extends WorkerGrpc.WorkerImplBase {
  private static final Logger LOG = Logger.getLogger(WorkerGrpcService.class);

  private final WorkerHolder holder;
  private final StatsPublisher stats;
  private final Fetcher fetcher;

  @Inject
  public WorkerGrpcService(WorkerHolder holder, StatsPublisher stats, Fetcher fetcher) {
    this.holder = holder;
    this.stats = stats;
    this.fetcher = fetcher;
  }

  @Override
  public void generate(
      WorkerGenerateRequest request, StreamObserver<WorkerGenerateResponse> observer) {
    WorkerRuntime runtime;
    RequestValidator.Validated validated;
    CompletableFuture<TokenConstraint> constraint;
    try {
      runtime = admitting();
      validated = RequestValidator.validate(request, runtime);
      if (OutputConstraints.constrained(request) && validated.n() > 1) {
        // A grammar's state follows one choice's tokens; n choices would each need their own.
        throw Status.INVALID_ARGUMENT
            .withDescription(
                "sampling.n: only n = 1 with response_format json_object or json_schema or a"
                    + " forced tool call")
            .asRuntimeException();
      }
      if (OutputConstraints.constrained(request)
          && validated.sequence().sampling().minTokens() > 0) {
        // A whole value allows only end-of-sequence, which min_tokens would ban: the request
        // could neither end nor go on.
        throw Errors.invalid(
            "sampling.min_tokens",
            "min_tokens must be 0 with response_format json_object or json_schema or a forced"
                + " tool call, since the output ends when its value is whole; got "
                + validated.sequence().sampling().minTokens());
      }
      constraint = OutputConstraints.of(request, runtime);
    } catch (StatusRuntimeException e) {
      observer.onError(e);
      return;
    }
    Scheduler scheduler = runtime.scheduler();
    GenerationStream stream =
        new GenerationStream(
            observer,
            runtime.tokenizer(),
            validated.stops(),
            validated.logprobs(),
            validated.n(),
            validated.sequence().prompt().length,
            currentEventLoop(),
            scheduler);
    // gRPC takes the cancel handler only now; the sequence may start later, once its grammar is
    // compiled. Client gone or deadline passed: the scheduler frees the sequence.
    AtomicReference<Sequence> submitted = new AtomicReference<>();
    AtomicBoolean cancelled = new AtomicBoolean();
    if (observer instanceof ServerCallStreamObserver<WorkerGenerateResponse> call) {
      call.setOnCancelHandler(
          () -> {
            cancelled.set(true);
            Sequence seq = submitted.get();
            if (seq != null) {
              scheduler.cancel(seq);
            }
          });
    }
    constraint.whenComplete(
        (c, error) -> {
          if (error != null) {
            if (!cancelled.get()) {
              observer.onError(Status.fromThrowable(error).asRuntimeException(trailers(error)));
            }
            return;
          }
          if (cancelled.get()) {
            return;
          }
          Sequence seq;
          try {
            seq = scheduler.submit(validated.sequence(), stream.outputs(), c);
          } catch (RejectedExecutionException e) {
            observer.onError(
                Status.RESOURCE_EXHAUSTED.withDescription(e.getMessage()).asRuntimeException());
            return;
          }
          submitted.set(seq);
          if (cancelled.get()) {
            scheduler.cancel(seq);
            return;
          }
          SchedulerSnapshot kv = scheduler.snapshot();
          stats
              .heldPrefixes()
              .prefilled(
                  PrefixKeys.of(request),
                  validated.sequence().prompt().length,
                  (long) kv.totalKvBlocks() * kv.kvBlockSize());
        });
  }

  /** The status trailers (google.rpc details) of a failed grammar compilation, if it has any. */
  private static io.grpc.Metadata trailers(Throwable error) {
    io.grpc.Metadata t = Status.trailersFromThrowable(error);
    return t == null ? new io.grpc.Metadata() : t;
  }

  /**
   * Embeds each input as its own prefill-only sequence, scheduled beside generation traffic; the
   * answer leaves when every input has pooled.
   */
  @Override
  public void embed(WorkerEmbedRequest request, StreamObserver<WorkerEmbedResponse> observer) {
    WorkerRuntime runtime;
    List<SequenceRequest> inputs;
    try {
      runtime = admitting();
      inputs = EmbedValidator.validate(request, runtime);
    } catch (StatusRuntimeException e) {
      observer.onError(e);
      return;
    }
    Scheduler scheduler = runtime.scheduler();
    EmbedCall call = new EmbedCall(observer, inputs.size(), scheduler);
    if (observer instanceof ServerCallStreamObserver<WorkerEmbedResponse> server) {
      server.setOnCancelHandler(call::cancel);
    }
    for (int i = 0; i < inputs.size(); i++) {
      try {
        call.submitted(scheduler.submit(inputs.get(i), call.output(i)));
      } catch (RejectedExecutionException e) {
        call.fail(Status.RESOURCE_EXHAUSTED.withDescription(e.getMessage()));
        return;
      }
    }
  }

  /**
   * The gateway's path: its calls share one stream, and a pass of the engine's messages for all of
   * them leaves in one response, sent from the stream's event loop after the pass's writes.
   */
  @Override
  public StreamObserver<GenerateStreamRequest> generateStream(
      StreamObserver<GenerateStreamResponse> out) {
    return GenerateStreamServer.serve(out, this::generate, currentEventLoop());
  }

  /**
   * The event loop this call runs on (Quarkus serves gRPC on Vert.x's Netty event loops, and a
   * non-blocking method is called on the call's loop), for the stream's batched writes; null off an
   * event loop (an in-process server in tests), where each message is written as it comes.
   */
  private static Executor currentEventLoop() {
    return Context.isOnEventLoopThread() && Vertx.currentContext() instanceof ContextInternal c
        ? c.nettyEventLoop()
        : null;
  }

  @Override
  public void loadAdapter(
      LoadAdapterRequest request, StreamObserver<LoadAdapterResponse> observer) {
    WorkerRuntime runtime;
    CompletableFuture<Path> dir;
    try {
      runtime = admitting();
      if (request.getName().isBlank()) {
        throw Errors.invalid("name", "the adapter name is empty");
      }
      if (!request.getBaseModel().isEmpty() && !request.getBaseModel().equals(holder.modelName())) {
        throw Errors.of(
            Status.FAILED_PRECONDITION,
            "adapter '"
                + request.getName()
                + "' is for base model '"
                + request.getBaseModel()
                + "'; this worker serves '"
                + holder.modelName()
                + "'");
      }
      if (runtime.scheduler().adapterSlots() == 0) {
        throw Errors.of(
            Status.FAILED_PRECONDITION,
            "this worker has no adapter slots (FLOTILLA_MAX_ADAPTERS=0)");
      }
      if (request.getSource().isBlank()) {
        dir =
            CompletableFuture.completedFuture(
                runtime
                    .catalog()
                    .source(request.getName())
                    .orElseThrow(
                        () ->
                            Errors.invalid(
                                "source",
                                "adapter '"
                                    + request.getName()
                                    + "' is not known to this worker and the request gives no"
                                    + " source")));
      } else {
        Source source = parse(request.getSource());
        // A local directory is read by the load itself, which names what is missing.
        dir =
            source instanceof Source.Local local
                ? CompletableFuture.completedFuture(local.dir())
                : fetched(request.getName(), source);
      }
    } catch (StatusRuntimeException e) {
      observer.onError(e);
      return;
    }
    long t0 = System.nanoTime();
    dir.whenComplete(
        (path, error) -> {
          if (error != null) {
            Throwable cause =
                error instanceof CompletionException && error.getCause() != null
                    ? error.getCause()
                    : error;
            observer.onError(
                Status.FAILED_PRECONDITION
                    .withDescription("adapter '" + request.getName() + "': " + cause.getMessage())
                    .asRuntimeException());
            return;
          }
          load(runtime, request, path, t0, observer);
        });
  }

  private void load(
      WorkerRuntime runtime,
      LoadAdapterRequest request,
      Path dir,
      long t0,
      StreamObserver<LoadAdapterResponse> observer) {
    boolean wasKnown = runtime.catalog().source(request.getName()).filter(dir::equals).isPresent();
    runtime.catalog().register(request.getName(), dir);
    runtime
        .scheduler()
        .loadAdapter(request.getName())
        .whenComplete(
            (adapter, error) -> {
              if (error == null) {
                observer.onNext(
                    LoadAdapterResponse.newBuilder()
                        .setRank(adapter.rank())
                        .addAllTargetModules(adapter.targetModules())
                        .setLoadMs((System.nanoTime() - t0) / 1_000_000)
                        .setBytes(adapter.bytes())
                        .build());
                observer.onCompleted();
                return;
              }
              Throwable cause =
                  error instanceof CompletionException && error.getCause() != null
                      ? error.getCause()
                      : error;
              if (!wasKnown) {
                runtime.catalog().forget(request.getName()); // a bad registration does not linger
              }
              Status status =
                  cause instanceof Scheduler.AdapterNotFoundException
                      ? Status.NOT_FOUND
                      : Status.FAILED_PRECONDITION;
              observer.onError(status.withDescription(cause.getMessage()).asRuntimeException());
            });
  }

  /**
   * The adapter's directory: a local one at once, a downloaded one when its download (logged as it
   * goes) is done.
   */
  private CompletableFuture<Path> fetched(String name, Source source) {
    return fetcher.fetchAsync(
        source,
        FileSet.ADAPTER,
        what -> new Progress(what, line -> LOG.infof("adapter %s: downloading %s", name, line)));
  }

  private Source parse(String source) {
    try {
      return fetcher.parse(source);
    } catch (IllegalArgumentException e) {
      throw Errors.invalid("source", "source " + e.getMessage());
    }
  }

  @Override
  public void unloadAdapter(
      UnloadAdapterRequest request, StreamObserver<UnloadAdapterResponse> observer) {
    WorkerRuntime runtime = holder.runtime().orElse(null);
    if (runtime == null) {
      observer.onError(
          Status.UNAVAILABLE.withDescription("the model is still loading").asRuntimeException());
      return;
    }
    runtime.catalog().forget(request.getName());
    runtime
        .scheduler()
        .unloadAdapter(request.getName())
        .whenComplete(
            (unloaded, error) -> {
              if (error != null) {
                observer.onError(
                    Status.INTERNAL.withDescription(error.getMessage()).asRuntimeException());
              } else {
                observer.onNext(UnloadAdapterResponse.newBuilder().setUnloaded(unloaded).build());
                observer.onCompleted();
              }
            });
  }

  @Override
  public void stats(StatsRequest request, StreamObserver<WorkerStats> observer) {
    if (request.getIntervalMs() < 0) {
      observer.onError(
          Errors.invalid(
              "interval_ms", "interval_ms must be >= 0, got " + request.getIntervalMs()));
      return;
    }
    stats.subscribe(request.getIntervalMs() == 0 ? 1000 : request.getIntervalMs(), observer);
  }

  /** The runtime, if it admits requests now. */
  private WorkerRuntime admitting() {
    return switch (holder.state()) {
      case SERVING -> holder.runtime().orElseThrow();
      case LOADING -> throw Errors.of(Status.UNAVAILABLE, "the model is still loading");
      case FAILED ->
          throw Errors.of(
              Status.UNAVAILABLE,
              "the model failed to load: " + holder.failure().orElse("unknown"));
      case DRAINING ->
          throw Errors.of(
              Status.RESOURCE_EXHAUSTED, "the worker is shutting down and admits no new requests");
    };
  }
}
