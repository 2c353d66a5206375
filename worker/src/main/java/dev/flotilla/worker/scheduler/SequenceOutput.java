package dev.flotilla.worker.scheduler;

import dev.flotilla.worker.engine.SampledToken;

/**
 * Where a sequence's results go. Called on the engine thread, one call at a time per sequence;
 * implementations hand slow work (network writes) elsewhere.
 */
public interface SequenceOutput {

  /**
   * A generated token (the end-of-sequence token included) and its log-probability.
   *
   * @return true when the text now contains a stop sequence: generation ends here
   */
  boolean onToken(int token, float logprob);

  /**
   * A generated token with its log-probability and, when asked, the most likely alternatives.
   *
   * @return true when the text now contains a stop sequence: generation ends here
   */
  default boolean onToken(SampledToken token) {
    return onToken(token.token(), token.logprob());
  }

  /**
   * An embedding request's pooled vector, after its last prompt chunk; {@link #onFinish} follows.
   */
  default void onEmbedding(float[] embedding) {
    throw new UnsupportedOperationException("this output takes no embeddings");
  }

  /** The sequence finished normally; no call follows. */
  void onFinish(SequenceResult result);

  /** The sequence cannot be served; no call follows. */
  void onFailure(Failure failure, String message);

  /** The sequence was cancelled by its caller and its resources are freed; no call follows. */
  default void onCancelled() {}

  /** Why a sequence was not served. */
  enum Failure {
    /** its adapter is not (or no longer) known to the worker */
    ADAPTER_NOT_FOUND,
    /** its adapter's files could not be loaded */
    ADAPTER_LOAD_FAILED,
    /** the worker shut down before it finished */
    SHUTTING_DOWN,
    /** the engine failed on a step */
    ENGINE_ERROR
  }
}
