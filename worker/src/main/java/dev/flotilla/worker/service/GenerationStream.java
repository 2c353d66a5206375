package dev.flotilla.worker.service;

import dev.flotilla.api.v1.ChoiceEnd;
import dev.flotilla.api.v1.FinishReason;
import dev.flotilla.api.v1.TokenChunk;
import dev.flotilla.api.v1.TopLogprobs;
import dev.flotilla.api.v1.Usage;
import dev.flotilla.api.worker.v1.WorkerFinal;
import dev.flotilla.api.worker.v1.WorkerGenerateResponse;
import dev.flotilla.worker.engine.SampledToken;
import dev.flotilla.worker.engine.TokenLogprob;
import dev.flotilla.worker.scheduler.Scheduler;
import dev.flotilla.worker.scheduler.SequenceOutput;
import dev.flotilla.worker.scheduler.SequenceResult;
import dev.flotilla.worker.text.IncrementalDetokenizer;
import dev.flotilla.worker.text.StopMatcher;
import dev.flotilla.worker.text.TokenDecoder;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * One Generate call's response stream. The engine thread hands it tokens; it turns them into text
 * deltas (never splitting a character, never showing part of a stop sequence) and writes them.
 *
 * <p>A request for n choices has one {@link Choice} output per choice, each with its own text
 * state; their chunks carry the choice index, and one final message follows the last choice's end,
 * with usage counting the prompt once and every choice's tokens.
 *
 * <p>Flow control: while the client's transport is not ready, new tokens are merged into one
 * pending chunk per choice instead of being queued message by message; the chunks go out when the
 * call is ready again. The final message is always written.
 *
 * <p>Writes made on the engine thread wait for the end of its pass and then run on the call's event
 * loop with the pass's other writes ({@link Scheduler#deferWrite}): a step's messages to a
 * connection leave in one flush instead of one wake-up of the loop per token.
 */
final class GenerationStream {
  private final StreamObserver<WorkerGenerateResponse> observer;
  private final ServerCallStreamObserver<WorkerGenerateResponse>
      flow; // null when the observer has no flow control
  private final TokenDecoder decoder;
  private final boolean logprobs;
  private final int promptTokens;
  private final Executor loop; // the call's event loop; null when it has none
  private final Scheduler scheduler;
  private final List<Choice> choices;
  private int unfinished; // guarded by this: choices that have not ended
  private WorkerFinal fin; // guarded by this: the end, not yet written
  private Status error; // guarded by this: a failed end, not yet written
  private boolean closed; // guarded by this
  private boolean tokensSent; // guarded by this
  private boolean writeDue; // guarded by this: a write is deferred to the pass's end

  /**
   * @param n the request's choices (at least 1)
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
      int n,
      int promptTokens,
      Executor loop,
      Scheduler scheduler) {
    this.observer = observer;
    this.promptTokens = promptTokens;
    this.loop = loop;
    this.scheduler = scheduler;
    this.flow = observer instanceof ServerCallStreamObserver<WorkerGenerateResponse> s ? s : null;
    this.decoder = decoder;
    this.logprobs = logprobs;
    List<Choice> list = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      list.add(new Choice(i, decoder, stops));
    }
    this.choices = List.copyOf(list);
    this.unfinished = n;
    if (flow != null) {
      flow.setOnReadyHandler(this::flush);
    }
  }

  /** The outputs of the choices, in index order, for {@link Scheduler#submit}. */
  List<SequenceOutput> outputs() {
    return List.copyOf(choices);
  }

  private TopLogprobs topLogprobs(SampledToken sampled) {
    TopLogprobs.Builder top = TopLogprobs.newBuilder();
    for (TokenLogprob t : sampled.top()) {
      top.addTokenIds(t.token()).addLogprobs(t.logprob()).addTokens(decodeAlone(t.token()));
    }
    return top.build();
  }

  private String decodeAlone(int token) {
    return decoder.decode(new int[] {token}, 0, 1);
  }

  /** One choice's text state and pending chunk; all writes go through the stream. */
  private final class Choice implements SequenceOutput {
    private final int index;
    private final IncrementalDetokenizer detokenizer;
    private final StopMatcher stops;
    private TokenChunk.Builder pending; // guarded by the stream
    private SequenceResult result; // guarded by the stream

    Choice(int index, TokenDecoder decoder, List<String> stops) {
      this.index = index;
      this.detokenizer = new IncrementalDetokenizer(decoder);
      this.stops = new StopMatcher(stops);
    }

    private TokenChunk.Builder pending() {
      if (pending == null) {
        pending = TokenChunk.newBuilder().setIndex(index);
      }
      return pending;
    }

    @Override
    public boolean onToken(int token, float logprob) {
      return onToken(new SampledToken(token, logprob));
    }

    @Override
    public boolean onToken(SampledToken sampled) {
      int token = sampled.token();
      StopMatcher.Result r = stops.push(detokenizer.add(token));
      TopLogprobs top = logprobs && !sampled.top().isEmpty() ? topLogprobs(sampled) : null;
      String alone = logprobs ? decodeAlone(token) : null;
      synchronized (GenerationStream.this) {
        TokenChunk.Builder chunk = pending();
        chunk.addTokenIds(token).setText(chunk.getText() + r.text());
        if (logprobs) {
          chunk.addLogprobs(sampled.logprob()).addTokens(alone);
          if (top != null) {
            chunk.addTopLogprobs(top);
          }
        }
      }
      writeSoon();
      return r.matched();
    }

    @Override
    public void onFinish(SequenceResult result) {
      String rest = "";
      if (result.reason() != SequenceResult.FinishReason.STOP_SEQUENCE) {
        rest = stops.push(detokenizer.flush()).text() + stops.flush();
      }
      synchronized (GenerationStream.this) {
        if (!rest.isEmpty()) {
          TokenChunk.Builder chunk = pending();
          chunk.setText(chunk.getText() + rest);
        }
        this.result = result;
        if (closed || --unfinished > 0) {
          return;
        }
        fin = finalMessage();
      }
      writeSoon();
    }

    @Override
    public void onFailure(Failure failure, String message) {
      fail(failure, message);
    }

    @Override
    public void onCancelled() {
      synchronized (GenerationStream.this) {
        closed = true;
      }
    }
  }

  /** The final message once every choice has its result: choice 0's, usage over all. */
  private WorkerFinal finalMessage() {
    SequenceResult first = choices.get(0).result;
    int completion = 0;
    int preemptions = 0;
    long total = 0;
    List<ChoiceEnd> ends = new ArrayList<>();
    for (Choice c : choices) {
      completion += c.result.completionTokens();
      preemptions += c.result.preemptions();
      total = Math.max(total, c.result.totalNanos());
      ends.add(
          ChoiceEnd.newBuilder()
              .setIndex(c.index)
              .setFinishReason(reason(c.result.reason()))
              .setCompletionTokens(c.result.completionTokens())
              .build());
    }
    WorkerFinal.Builder fin =
        WorkerFinal.newBuilder()
            .setFinishReason(reason(first.reason()))
            .setUsage(
                Usage.newBuilder()
                    .setPromptTokens(first.promptTokens())
                    .setCompletionTokens(completion)
                    .setTotalTokens(first.promptTokens() + completion))
            .setQueueMs(TimeUnit.NANOSECONDS.toMillis(first.queueNanos()))
            .setTimeToFirstTokenMs(TimeUnit.NANOSECONDS.toMillis(first.firstTokenNanos()))
            .setTimeBetweenTokensMs(first.meanTokenGapNanos() / 1e6)
            .setTotalMs(TimeUnit.NANOSECONDS.toMillis(total))
            .setPreemptions(preemptions);
    if (choices.size() > 1) {
      fin.addAllChoices(ends);
    }
    return fin.build();
  }

  private void fail(SequenceOutput.Failure failure, String message) {
    Status status =
        switch (failure) {
          case ADAPTER_NOT_FOUND -> Status.NOT_FOUND;
          case ADAPTER_LOAD_FAILED -> Status.FAILED_PRECONDITION;
          case SHUTTING_DOWN -> Status.UNAVAILABLE;
          case ENGINE_ERROR -> Status.INTERNAL;
        };
    synchronized (this) {
      if (closed || fin != null || error != null) {
        return; // the other choices of a failed request hear the same failure
      }
      error = status.withDescription(message);
    }
    writeSoon(); // after the tokens the engine thread already produced for this call
  }

  /** A choice's pending chunk as a message; the first one also says how long the prompt was. */
  private WorkerGenerateResponse tokensMessage(Choice c) {
    WorkerGenerateResponse.Builder m = WorkerGenerateResponse.newBuilder().setTokens(c.pending);
    c.pending = null;
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
   * Writes the pending chunks if the call can take them, and the end once the request has ended:
   * its final message or its error, with any pending chunks before it, ready or not.
   */
  private synchronized void flush() {
    writeDue = false;
    if (closed) {
      return;
    }
    try {
      if (error != null || fin != null) {
        closed = true;
        writePending();
        if (error != null) {
          observer.onError(error.asRuntimeException());
        } else {
          observer.onNext(WorkerGenerateResponse.newBuilder().setFinal(fin).build());
          observer.onCompleted();
        }
        return;
      }
      if (flow != null && !flow.isReady()) {
        return;
      }
      writePending();
    } catch (RuntimeException e) {
      closed =
          true; // cancelled by the client; the scheduler hears of it through the cancel handler
    }
  }

  private void writePending() {
    for (Choice c : choices) {
      if (c.pending != null) {
        observer.onNext(tokensMessage(c));
      }
    }
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
