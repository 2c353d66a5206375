package dev.flotilla.worker.service;

import dev.flotilla.api.worker.v1.GenerateStreamRequest;
import dev.flotilla.api.worker.v1.GenerateStreamResponse;
import dev.flotilla.api.worker.v1.LoadAdapterRequest;
import dev.flotilla.api.worker.v1.LoadAdapterResponse;
import dev.flotilla.api.worker.v1.StatsRequest;
import dev.flotilla.api.worker.v1.UnloadAdapterRequest;
import dev.flotilla.api.worker.v1.UnloadAdapterResponse;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.api.worker.v1.WorkerGenerateResponse;
import dev.flotilla.api.worker.v1.WorkerGrpc;
import dev.flotilla.api.worker.v1.WorkerStats;
import dev.flotilla.worker.config.Sources;
import dev.flotilla.worker.config.WorkerConfigException;
import dev.flotilla.worker.runtime.WorkerHolder;
import dev.flotilla.worker.runtime.WorkerRuntime;
import dev.flotilla.worker.scheduler.Scheduler;
import dev.flotilla.worker.scheduler.Sequence;
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
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * {@code flotilla.worker.v1.Worker}: Generate streams tokens from the scheduler; LoadAdapter and
 * UnloadAdapter manage adapter slots; Stats streams the scheduler's state. Nothing here blocks a
 * gRPC thread: requests are checked, queued, and answered from the engine thread.
 */
@GrpcService
public class WorkerGrpcService extends WorkerGrpc.WorkerImplBase {
  private final WorkerHolder holder;
  private final StatsPublisher stats;

  @Inject
  public WorkerGrpcService(WorkerHolder holder, StatsPublisher stats) {
    this.holder = holder;
    this.stats = stats;
  }

  @Override
  public void generate(
      WorkerGenerateRequest request, StreamObserver<WorkerGenerateResponse> observer) {
    WorkerRuntime runtime;
    RequestValidator.Validated validated;
    try {
      runtime = admitting();
      validated = RequestValidator.validate(request, runtime);
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
            validated.sequence().prompt().length,
            currentEventLoop(),
            scheduler);
    Sequence seq;
    try {
      seq = scheduler.submit(validated.sequence(), stream);
    } catch (RejectedExecutionException e) {
      observer.onError(
          Status.RESOURCE_EXHAUSTED.withDescription(e.getMessage()).asRuntimeException());
      return;
    }
    if (observer instanceof ServerCallStreamObserver<WorkerGenerateResponse> call) {
      // Client gone or deadline passed: gRPC cancels the call and the scheduler frees the sequence.
      call.setOnCancelHandler(() -> scheduler.cancel(seq));
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
    Path dir;
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
            runtime
                .catalog()
                .source(request.getName())
                .orElseThrow(
                    () ->
                        Errors.invalid(
                            "source",
                            "adapter '"
                                + request.getName()
                                + "' is not known to this worker and the request gives no source"));
      } else {
        dir = sourceDirectory(request.getSource());
      }
    } catch (StatusRuntimeException e) {
      observer.onError(e);
      return;
    }
    long t0 = System.nanoTime();
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

  private static Path sourceDirectory(String source) {
    try {
      return Sources.directory(source, "source");
    } catch (WorkerConfigException e) {
      throw Errors.invalid("source", e.getMessage());
    }
  }
}
