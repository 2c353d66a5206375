package dev.flotilla.worker.service;

import dev.flotilla.api.v1.Embedding;
import dev.flotilla.api.worker.v1.WorkerEmbedResponse;
import dev.flotilla.worker.scheduler.Scheduler;
import dev.flotilla.worker.scheduler.Sequence;
import dev.flotilla.worker.scheduler.SequenceOutput;
import dev.flotilla.worker.scheduler.SequenceResult;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One Embed call: its inputs run as separate sequences and the answer leaves once all of them have
 * pooled. The first failure answers the call and cancels the inputs still running, so no input
 * keeps the engine busy for a call that has ended.
 */
final class EmbedCall {
  private final StreamObserver<WorkerEmbedResponse> observer;
  private final float[][] vectors;
  private final List<Sequence> sequences = new ArrayList<>(); // guarded by this
  private final Scheduler scheduler;
  private int pending; // guarded by this
  private int promptTokens; // guarded by this
  private long queueNanos; // guarded by this
  private long totalNanos; // guarded by this
  private int preemptions; // guarded by this
  private boolean ended; // guarded by this

  EmbedCall(StreamObserver<WorkerEmbedResponse> observer, int inputs, Scheduler scheduler) {
    this.observer = observer;
    this.vectors = new float[inputs][];
    this.pending = inputs;
    this.scheduler = scheduler;
  }

  /** Where input {@code index}'s results go. */
  SequenceOutput output(int index) {
    return new SequenceOutput() {
      @Override
      public boolean onToken(int token, float logprob) {
        throw new IllegalStateException("an embedding sequence generates no token");
      }

      @Override
      public void onEmbedding(float[] embedding) {
        vectors[index] = embedding;
      }

      @Override
      public void onFinish(SequenceResult result) {
        finished(result);
      }

      @Override
      public void onFailure(Failure failure, String message) {
        fail(EmbedCall.status(failure).withDescription("input " + index + ": " + message));
      }
    };
  }

  /** Remembers a submitted input's sequence, to cancel it if the call ends early. */
  synchronized void submitted(Sequence seq) {
    if (ended) {
      scheduler.cancel(seq);
    } else {
      sequences.add(seq);
    }
  }

  /** The client went away: every input still running is cancelled. */
  void cancel() {
    List<Sequence> running;
    synchronized (this) {
      ended = true;
      running = List.copyOf(sequences);
    }
    running.forEach(scheduler::cancel);
  }

  private void finished(SequenceResult result) {
    WorkerEmbedResponse response;
    synchronized (this) {
      if (ended) {
        return;
      }
      promptTokens += result.promptTokens();
      queueNanos = Math.max(queueNanos, result.queueNanos());
      totalNanos = Math.max(totalNanos, result.totalNanos());
      preemptions += result.preemptions();
      if (--pending > 0) {
        return;
      }
      ended = true;
      WorkerEmbedResponse.Builder b =
          WorkerEmbedResponse.newBuilder()
              .setPromptTokens(promptTokens)
              .setQueueMs(TimeUnit.NANOSECONDS.toMillis(queueNanos))
              .setTotalMs(TimeUnit.NANOSECONDS.toMillis(totalNanos))
              .setPreemptions(preemptions);
      for (float[] v : vectors) {
        Embedding.Builder e = Embedding.newBuilder();
        for (float x : v) {
          e.addValues(x);
        }
        b.addEmbeddings(e);
      }
      response = b.build();
    }
    observer.onNext(response);
    observer.onCompleted();
  }

  /** Ends the call with an error (once) and cancels the inputs still running. */
  void fail(Status status) {
    List<Sequence> running;
    synchronized (this) {
      if (ended) {
        return;
      }
      ended = true;
      running = List.copyOf(sequences);
    }
    running.forEach(scheduler::cancel);
    observer.onError(status.asRuntimeException());
  }

  private static Status status(SequenceOutput.Failure failure) {
    return switch (failure) {
      case ADAPTER_NOT_FOUND -> Status.NOT_FOUND;
      case ADAPTER_LOAD_FAILED -> Status.FAILED_PRECONDITION;
      case SHUTTING_DOWN -> Status.UNAVAILABLE;
      case ENGINE_ERROR -> Status.INTERNAL;
    };
  }
}
