package dev.flotilla.worker.service;

import dev.flotilla.api.v1.FinishReason;
import dev.flotilla.api.v1.TokenChunk;
import dev.flotilla.api.v1.Usage;
import dev.flotilla.api.worker.v1.WorkerFinal;
import dev.flotilla.api.worker.v1.WorkerGenerateResponse;
import dev.flotilla.worker.scheduler.Scheduler;
import dev.flotilla.worker.scheduler.SequenceOutput;
import dev.flotilla.worker.scheduler.SequenceResult;
import dev.flotilla.worker.text.IncrementalDetokenizer;
import dev.flotilla.worker.text.StopMatcher;
import dev.flotilla.worker.text.TokenDecoder;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * One Generate call's response stream. The engine thread hands it tokens; it turns them into text
 * deltas (never splitting a character, never showing part of a stop sequence) and writes them.
 *
 * <p>Flow control: while the client's transport is not ready, new tokens are merged into one
 * pending chunk instead of being queued message by message; the chunk goes out when the call is
 * ready again. The final message is always written.
 *
 * <p>Writes made on the engine thread wait for the end of its pass and then run on the call's event
 * loop with the pass's other writes ({@link Scheduler#deferWrite}): a step's messages to a
 * connection leave in one flush instead of one wake-up of the loop per token.
 */
final class GenerationStream implements SequenceOutput {
  private final StreamObserver<WorkerGenerateResponse> observer;
  private final ServerCallStreamObserver<WorkerGenerateResponse>
      flow; // null when the observer has no flow control
  private final IncrementalDetokenizer detokenizer;
  private final StopMatcher stops;
  private final boolean logprobs;
  private final int promptTokens;
  private final Executor loop; // the call's event loop; null when it has none
  private final Scheduler scheduler;
  private TokenChunk.Builder pending; // guarded by this
  private WorkerFinal fin; // guarded by this: the end, not yet written
  private Status error; // guarded by this: a failed end, not yet written
  private boolean closed; // guarded by this
  private boolean tokensSent; // guarded by this
  private boolean writeDue; // guarded by this: a write is deferred to the pass's end

  /**
   * @param promptTokens the prompt length, announced on the first message with tokens
   * @param loop the event loop that carries the call, for writes batched per engine pass; null to
   *     write each message when it is produced
   * @param scheduler where engine-thread writes are deferred to
   */
  GenerationStream(
      StreamObserver<WorkerGenerateResponse> observer,
      TokenDecoder decoder,
      List<String> stops,
      boolean logprobs,
      int promptTokens,
      Executor loop,
      Scheduler scheduler) {
    this.observer = observer;
    this.promptTokens = promptTokens;
    this.loop = loop;
    this.scheduler = scheduler;
    this.flow = observer instanceof ServerCallStreamObserver<WorkerGenerateResponse> s ? s : null;
    this.detokenizer = new IncrementalDetokenizer(decoder);
    this.stops = new StopMatcher(stops);
    this.logprobs = logprobs;
    if (flow != null) {
      flow.setOnReadyHandler(this::flush);
    }
  }

  @Override
  public boolean onToken(int token, float logprob) {
    StopMatcher.Result r = stops.push(detokenizer.add(token));
    synchronized (this) {
      if (pending == null) {
        pending = TokenChunk.newBuilder();
      }
      pending.addTokenIds(token).setText(pending.getText() + r.text());
      if (logprobs) {
        pending.addLogprobs(logprob);
      }
    }
    writeSoon();
    return r.matched();
  }

  @Override
  public void onFinish(SequenceResult result) {
    if (result.reason() != SequenceResult.FinishReason.STOP_SEQUENCE) {
      String rest = stops.push(detokenizer.flush()).text() + stops.flush();
      if (!rest.isEmpty()) {
        synchronized (this) {
          if (pending == null) {
            pending = TokenChunk.newBuilder();
          }
          pending.setText(pending.getText() + rest);
        }
      }
    }
    WorkerFinal fin =
        WorkerFinal.newBuilder()
            .setFinishReason(reason(result.reason()))
            .setUsage(
                Usage.newBuilder()
                    .setPromptTokens(result.promptTokens())
                    .setCompletionTokens(result.completionTokens())
                    .setTotalTokens(result.promptTokens() + result.completionTokens()))
            .setQueueMs(TimeUnit.NANOSECONDS.toMillis(result.queueNanos()))
            .setTimeToFirstTokenMs(TimeUnit.NANOSECONDS.toMillis(result.firstTokenNanos()))
            .setTimeBetweenTokensMs(result.meanTokenGapNanos() / 1e6)
            .setTotalMs(TimeUnit.NANOSECONDS.toMillis(result.totalNanos()))
            .setPreemptions(result.preemptions())
            .build();
    synchronized (this) {
      if (closed) {
        return;
      }
      this.fin = fin;
    }
    writeSoon();
  }

  @Override
  public void onFailure(Failure failure, String message) {
    Status status =
        switch (failure) {
          case ADAPTER_NOT_FOUND -> Status.NOT_FOUND;
          case ADAPTER_LOAD_FAILED -> Status.FAILED_PRECONDITION;
          case SHUTTING_DOWN -> Status.UNAVAILABLE;
          case ENGINE_ERROR -> Status.INTERNAL;
        };
    synchronized (this) {
      if (closed || fin != null) {
        return;
      }
      error = status.withDescription(message);
    }
    writeSoon(); // after the tokens the engine thread already produced for this call
  }

  @Override
  public synchronized void onCancelled() {
    closed = true;
  }

  /** The pending chunk as a message; the first one also says how long the prompt was. */
  private WorkerGenerateResponse tokensMessage() {
    WorkerGenerateResponse.Builder m = WorkerGenerateResponse.newBuilder().setTokens(pending);
    if (!tokensSent) {
      m.setPromptTokens(promptTokens);
      tokensSent = true;
    }
    return m.build();
  }

  /** Writes now, or at the end of the engine thread's pass when called there. */
  private void writeSoon() {
    synchronized (this) {
      if (writeDue) {
        return; // already deferred: that write sends what is pending now
      }
      writeDue = true;
    }
    if (loop == null || !scheduler.deferWrite(loop, this::flush)) {
      flush();
    }
  }

  /**
   * Writes the pending chunk if the call can take it, and the end once the sequence has ended: its
   * final message or its error, with any pending chunk before it, ready or not.
   */
  private synchronized void flush() {
    writeDue = false;
    if (closed) {
      return;
    }
    try {
      if (error != null) {
        closed = true;
        if (pending != null) {
          observer.onNext(tokensMessage());
          pending = null;
        }
        observer.onError(error.asRuntimeException());
        return;
      }
      if (fin != null) {
        closed = true;
        if (pending != null) {
          observer.onNext(tokensMessage());
          pending = null;
        }
        observer.onNext(WorkerGenerateResponse.newBuilder().setFinal(fin).build());
        observer.onCompleted();
        return;
      }
      if (pending == null || (flow != null && !flow.isReady())) {
        return;
      }
      observer.onNext(tokensMessage());
    } catch (RuntimeException e) {
      closed =
          true; // cancelled by the client; the scheduler hears of it through the cancel handler
    }
    pending = null;
  }

  private static FinishReason reason(SequenceResult.FinishReason reason) {
    return switch (reason) {
      case STOP -> FinishReason.STOP;
      case LENGTH -> FinishReason.LENGTH;
      case STOP_SEQUENCE -> FinishReason.STOP_SEQUENCE;
      case CONTEXT_LENGTH -> FinishReason.CONTEXT_LENGTH;
    };
  }
}
