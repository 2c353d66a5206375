package dev.flotilla.worker.scheduler;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;

/** Collects what the scheduler reports for one sequence. */
class RecordingOutput implements SequenceOutput {
  final List<Integer> tokens = new ArrayList<>();
  volatile SequenceResult result;
  volatile Failure failure;
  volatile String failureMessage;
  volatile boolean cancelled;
  private final IntPredicate stopAt;

  RecordingOutput() {
    this(t -> false);
  }

  /** Reports a stop-sequence match when {@code stopAt} accepts a token. */
  RecordingOutput(IntPredicate stopAt) {
    this.stopAt = stopAt;
  }

  @Override
  public boolean onToken(int token, float logprob) {
    tokens.add(token);
    return stopAt.test(token);
  }

  @Override
  public void onFinish(SequenceResult result) {
    this.result = result;
  }

  @Override
  public void onFailure(Failure failure, String message) {
    this.failure = failure;
    this.failureMessage = message;
  }

  @Override
  public void onCancelled() {
    cancelled = true;
  }

  boolean done() {
    return result != null || failure != null || cancelled;
  }
}
