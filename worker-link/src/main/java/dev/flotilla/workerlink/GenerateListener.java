package dev.flotilla.workerlink;

import dev.flotilla.api.v1.TokenChunk;
import dev.flotilla.api.worker.v1.WorkerFinal;
import io.grpc.Status;

/**
 * Receives one Generate call to a worker. Callbacks for a call never overlap and come in stream
 * order; they may run on a transport thread and must not block. After {@link GenerateCall#cancel}
 * the listener may hear nothing more.
 */
public interface GenerateListener {
  /** The worker's count of the prompt, heard with the first tokens (before {@link #onTokens}). */
  default void onPromptCounted(int promptTokens) {}

  void onTokens(TokenChunk chunk);

  void onFinal(WorkerFinal fin);

  /** The call failed; {@code status} is the worker's or the transport's. */
  void onError(Status status);
}
