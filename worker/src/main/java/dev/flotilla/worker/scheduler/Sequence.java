package dev.flotilla.worker.scheduler;

import dev.flotilla.worker.engine.SequenceTokens;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * One request's generation state. Owned by the engine thread, except {@link #cancel()}, which any
 * thread may call; the scheduler frees the sequence within one step.
 *
 * <p>The sequence's tokens are its prompt followed by what it generated. {@code cached} of them are
 * in the KV cache; the rest are processed by the next steps (a prefill chunk at a time, or the
 * single newest token while decoding). Preemption drops the cache ({@code cached = 0}), so the
 * sequence recomputes prompt and generated tokens when it is admitted again.
 *
 * <p>A request for n choices is n sequences in one {@link Group}. The first (choice 0, the lead) is
 * admitted with ids reserved for the others, prefills the prompt, and then forks its KV cache into
 * them ({@link #forks} until then), so the prompt is computed once. From then on each choice runs
 * as a sequence of its own; the group is cancelled and fails as one.
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
  final int choice; // index among the request's choices
  final Group group;
  final List<Sequence> forks = new ArrayList<>(); // lead only: choices waiting for its prompt
  final int[] endTokens; // end-of-sequence and stop token ids

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

  Sequence(
      SequenceRequest request,
      SequenceOutput output,
      long arrival,
      long arrivalNanos,
      int choice,
      Group group,
      int[] endTokens) {
    this.request = request;
    this.endTokens = endTokens;
    this.output = output;
    this.arrival = arrival;
    this.arrivalNanos = arrivalNanos;
    this.choice = choice;
    this.group = group;
    group.members.add(this);
    this.tokens =
        Arrays.copyOf(
            request.prompt(), request.prompt().length + Math.min(request.maxTokens(), 64));
    this.length = request.prompt().length;
  }

  /** Asks the scheduler to stop this sequence, and the other choices of its request. */
  public void cancel() {
    group.cancelled = true;
  }

  public boolean isCancelled() {
    return group.cancelled;
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

  /** The tokens so far, as sampling reads them; valid until the next append. */
  SequenceTokens sampledFrom() {
    return new SequenceTokens(tokens, length, request.prompt().length, endTokens);
  }

  /** Whether {@code token} ends this sequence (end-of-sequence or a stop token id). */
  boolean isEnd(int token) {
    for (int end : endTokens) {
      if (end == token) {
        return true;
      }
    }
    return false;
  }

  /** The generated tokens so far. */
  int[] generatedTokens() {
    return Arrays.copyOfRange(tokens, request.prompt().length, length);
  }

  /** The choices of one request: cancelled together, failed together. */
  static final class Group {
    final List<Sequence> members = new ArrayList<>(1); // in choice order
    volatile boolean cancelled;
  }
}
