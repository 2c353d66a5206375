package dev.flotilla.gateway.worker;

import dev.flotilla.api.worker.v1.LoadAdapterRequest;
import dev.flotilla.api.worker.v1.LoadAdapterResponse;
import dev.flotilla.api.worker.v1.WorkerEmbedRequest;
import dev.flotilla.api.worker.v1.WorkerEmbedResponse;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.api.worker.v1.WorkerStats;
import dev.flotilla.workerlink.GenerateCall;
import dev.flotilla.workerlink.GenerateListener;
import io.grpc.Deadline;
import io.grpc.Status;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/** How the gateway talks to workers ({@code flotilla.worker.v1.Worker}). */
public interface WorkerClient extends AutoCloseable {
  /**
   * Starts a call that delivers {@code initialMessages} messages, then as many more as {@link
   * GenerateCall#request} asks for.
   *
   * @param deadline the client's deadline, propagated to the worker; null for none
   */
  GenerateCall generate(
      String address,
      WorkerGenerateRequest request,
      GenerateListener listener,
      Deadline deadline,
      int initialMessages);

  CompletableFuture<LoadAdapterResponse> loadAdapter(String address, LoadAdapterRequest request);

  /**
   * Calls the worker's Embed. Cancelling the future cancels the call.
   *
   * @param deadline the client's deadline, propagated to the worker; null for none
   */
  CompletableFuture<WorkerEmbedResponse> embed(
      String address, WorkerEmbedRequest request, Deadline deadline);

  /** Follows the worker's Stats stream until closed; {@code onEnd} hears when it breaks. */
  AutoCloseable watchStats(
      String address, int intervalMs, Consumer<WorkerStats> onStats, Consumer<Status> onEnd);

  /** Releases the channel of an endpoint that went away. */
  void forget(String address);

  @Override
  void close();
}
