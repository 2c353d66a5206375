package dev.flotilla.gateway.service;

import dev.flotilla.api.v1.TokenChunk;
import dev.flotilla.api.worker.v1.LoadAdapterRequest;
import dev.flotilla.api.worker.v1.LoadAdapterResponse;
import dev.flotilla.api.worker.v1.WorkerEmbedRequest;
import dev.flotilla.api.worker.v1.WorkerEmbedResponse;
import dev.flotilla.api.worker.v1.WorkerFinal;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.gateway.route.WorkerView;
import dev.flotilla.gateway.worker.WorkerClient;
import dev.flotilla.workerlink.GenerateCall;
import dev.flotilla.workerlink.GenerateListener;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.CompletableFuture;

/**
 * One try of a request on one worker: the adapter load it may need, the Generate call and the
 * call's flow control. It listens to its own call and hands each callback to its run with itself
 * attached, so the run tells the current try's callbacks from a failed one's.
 */
final class WorkerAttempt implements GenerateListener {
  /**
   * Worker messages requested ahead of the client, and the smallest credit handed back at once: one
   * request to the worker per 8 tokens instead of per token, and at most 16 chunks buffered for a
   * client that is not reading.
   */
  static final int WINDOW = 16;

  static final int WINDOW_BATCH = 8;

  private final RequestRun run;
  private final String workerId;

  /** Null when the worker went away between being picked and being tried. */
  private final String address;

  private final WorkerClient client;
  // guarded by the run's lock; set once, when the call opens
  private StreamWindow window;
  private GenerateCall call;
  private CompletableFuture<WorkerEmbedResponse> embedCall;

  WorkerAttempt(RequestRun run, String workerId, String address, WorkerClient client) {
    this.run = run;
    this.workerId = workerId;
    this.address = address;
    this.client = client;
  }

  String workerId() {
    return workerId;
  }

  boolean workerGone() {
    return address == null;
  }

  /** Whether the worker has the request's adapter neither resident nor on its way. */
  static boolean lacksAdapter(WorkerView worker, String adapter) {
    return !adapter.isEmpty()
        && !worker.residentAdapters().contains(adapter)
        && !worker.loadingAdapters().contains(adapter);
  }

  CompletableFuture<LoadAdapterResponse> loadAdapter(RequestFacts facts) {
    // The base model as namespace/name, as the operator names the worker's model.
    return client.loadAdapter(
        address,
        LoadAdapterRequest.newBuilder()
            .setName(facts.adapterName())
            .setSource(facts.grant().adapter().source())
            .setBaseModel(facts.modelKey())
            .build());
  }

  /** Opens the call. Under the run's lock, so no callback finds the call missing. */
  void open(WorkerGenerateRequest request, Deadline deadline) {
    window = new StreamWindow(WINDOW, WINDOW_BATCH);
    call = client.generate(address, request, this, deadline, window.open());
  }

  /**
   * Opens an Embed call; its answer or failure comes back to the run. Under the run's lock, as
   * {@link #open}.
   */
  void openEmbed(WorkerEmbedRequest request, Deadline deadline) {
    embedCall = client.embed(address, request, deadline);
    embedCall.whenComplete(
        (response, error) -> {
          if (error == null) {
            run.embedded(this, response);
          } else if (error instanceof StatusRuntimeException refusal) {
            run.workerRefused(this, refusal);
          } else {
            run.workerFailed(this, Status.fromThrowable(error));
          }
        });
  }

  /** A chunk went to the client: hands credit back while the client keeps up. Under lock. */
  void delivered(boolean clientReady) {
    request(window.received(clientReady));
  }

  /** The client can take more: resumes a stream paused for it. Under the run's lock. */
  void clientReady() {
    request(window.clientReady());
  }

  private void request(int credit) {
    if (credit > 0) {
      call.request(credit);
    }
  }

  /** Stops the call, if it opened; after the run is DONE, when nothing opens it any more. */
  void cancel() {
    if (call != null) {
      call.cancel("client cancelled");
    }
    if (embedCall != null) {
      embedCall.cancel(false);
    }
  }

  @Override
  public void onPromptCounted(int promptTokens) {
    run.promptCounted(this, promptTokens);
  }

  @Override
  public void onTokens(TokenChunk chunk) {
    run.tokens(this, chunk);
  }

  @Override
  public void onFinal(WorkerFinal fin) {
    run.completed(this, fin);
  }

  @Override
  public void onError(Status status) {
    run.workerFailed(this, status);
  }
}
