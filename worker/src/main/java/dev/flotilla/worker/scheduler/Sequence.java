package dev.flotilla.worker.scheduler;

import java.util.Arrays;
import java.util.Comparator;

/**
 * One request's generation state. Owned by the engine thread, except {@link #cancel()}, which any
 * thread may call; the scheduler frees the sequence within one step.
 *
 * <p>The sequence's tokens are its prompt followed by what it generated. {@code cached} of them are
 * in the KV cache; the rest are processed by the next steps (a prefill chunk at a time, or the
 * single newest token while decoding). Preemption drops the cache ({@code cached = 0}), so the
 * sequence recomputes prompt and generated tokens when it is admitted again.
 */
public final class Sequence {
  /**
   * Admission order among waiting sequences: priority (high first), virtual token counter (low
   * first), arrival.
   */
  static final Comparator<Sequence> ADMISSION_ORDER =
      Comparator.<Sequence>comparingInt(s -> -s.request.priority())
          .thenComparingDouble(s -> s.request.virtualTokenCounter())
          .thenComparingLong(s -> s.arrival);

  /**
   * Preemption order among running sequences: lowest priority first, then the youngest (latest
   * arrival).
   */
  static final Comparator<Sequence> PREEMPTION_ORDER =
      Comparator.<Sequence>comparingInt(s -> s.request.priority())
          .thenComparingLong(s -> -s.arrival);

  final SequenceRequest request;
  final SequenceOutput output;
  final long arrival; // submission order
  final long arrivalNanos;

  private volatile boolean cancelled;

  int[] tokens; // prompt then generated; capacity grows
  int length; // valid entries of tokens
  int cached; // tokens in the KV cache
  int seqId = -1; // engine sequence id while running
  LoadedAdapter adapter; // while running with an adapter
  TokenConstraint constraint; // null: any token may follow
  long admittedNanos = -1; // first admission
  long firstTokenNanos = -1;
  long lastTokenNanos = -1;
  int preemptions;
  boolean finished;
  Pooling.Accumulator pooled; // an embedding request's hidden states so far, once admitted

  Sequence(SequenceRequest request, SequenceOutput output, long arrival, long arrivalNanos) {
    this.request = request;
    this.output = output;
    this.arrival = arrival;
    this.arrivalNanos = arrivalNanos;
    this.tokens =
        Arrays.copyOf(
            request.prompt(), request.prompt().length + Math.min(request.maxTokens(), 64));
    this.length = request.prompt().length;
  }

  /** Asks the scheduler to stop this sequence and free what it holds. */
  public void cancel() {
    cancelled = true;
  }

  public boolean isCancelled() {
    return cancelled;
  }

  public String requestId() {
    return request.requestId();
  }

  int generated() {
    return length - request.prompt().length;
  }

  /** Tokens not yet in the KV cache. */
  int pending() {
    return length - cached;
  }

  void append(int token) {
    if (length == tokens.length) {
      tokens = Arrays.copyOf(tokens, tokens.length * 2);
    }
    tokens[length++] = token;
  }

  /** The generated tokens so far. */
  int[] generatedTokens() {
    return Arrays.copyOfRange(tokens, request.prompt().length, length);
  }
}
