package dev.flotilla.worker.scheduler;

import dev.flotilla.worker.engine.EngineException;
import dev.flotilla.worker.engine.KvCacheFullException;
import dev.flotilla.worker.engine.KvStats;
import dev.flotilla.worker.engine.SampledToken;
import dev.flotilla.worker.scheduler.SequenceOutput.Failure;
import dev.flotilla.worker.scheduler.SequenceResult.FinishReason;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.stream.IntStream;
import org.jboss.logging.Logger;

/**
 * Iteration-level (continuous) batching over one {@link EngineBackend}.
 *
 * <p>One engine thread owns all state and runs {@link #runOnce()} in a loop: apply what other
 * threads asked for (submissions, cancellations, adapter loads finished), then one step:
 *
 * <ol>
 *   <li>drop cancelled sequences and free their KV blocks;
 *   <li>admit waiting sequences in {@link Sequence#ADMISSION_ORDER} while the batch, free sequence
 *       ids and the KV budget allow. A sequence whose adapter the engine does not hold starts its
 *       load off the engine thread and waits without holding up the ones behind it; one whose
 *       adapter waits in the host tier brings it into the pool, its blocks counted with the
 *       sequence's ({@link AdapterResidency}). A sequence that does not fit the budget, counting
 *       what evicting cached KV blocks and idle adapters would free, stops admission, so large
 *       prompts are not starved;
 *   <li>build the step: one row per decoding sequence, then prefill chunks in admission order up to
 *       the step's prefill budget (3/4 of the number of decodes, or of the prefill chunk if larger:
 *       {@link #prefillBudget}), so decodes keep flowing at a steady pace while long prompts are
 *       prefilled;
 *   <li>if the step needs more KV blocks than are free, evict the least recently used unpinned
 *       things, cached KV blocks and idle adapters in one order ({@link SharedPool}), then preempt
 *       sequences in {@link Sequence#PREEMPTION_ORDER} (free their blocks, requeue them to
 *       recompute prompt and generated tokens) until it fits; run it; sample one token per sequence
 *       whose chunk reached its end, with the sequence's seed and generation step so batching never
 *       changes a token;
 *   <li>retire finished sequences at once.
 * </ol>
 *
 * <p>Embedding requests ({@link SequenceRequest#embeds()}) take the same path as prefill-only
 * sequences: their prompt chunks share steps with generation traffic, the engine returns the final
 * hidden states their pooling needs instead of logits, and after the last chunk they pool, answer
 * and free their KV blocks at once.
 *
 * <p>The KV budget and the adapters share one pool (as in S-LoRA): a resident adapter counts as the
 * KV blocks its weights would fill, so resident adapters leave less room for sequences. When a step
 * or an admitted adapter needs room, the least recently used unpinned thing goes first: a run of
 * cached KV blocks no sequence holds, or an idle adapter (to the host tier), whichever was used
 * longer ago ({@link SharedPool}); running sequences are preempted only when neither is left.
 * Sequences never fail for want of KV blocks: requests are validated to fit the context, which is
 * at most the whole pool, and a lone sequence may always use the whole pool, borrowing the share of
 * the adapters it pins.
 *
 * <p>Prefix caching ({@link Limits#prefixCache()}): the engine keeps every full KV block it
 * computed, keyed by the adapter and all tokens up to the block's end, until the pool needs the
 * room. A sequence admitted (or readmitted after preemption) first adopts the longest cached run of
 * blocks for its tokens ({@link EngineBackend#adoptPrefix}), so {@code cached} starts there and
 * only the rest is prefilled; at least its last token is computed, for the logits it samples from.
 * Cached blocks no sequence holds stay until the pool needs their room, and admission charges a
 * sequence only for the cached blocks running sequences do not already hold.
 *
 * <p>A request for n choices ({@link #submit(SequenceRequest, List)}) is admitted as one sequence
 * with n - 1 further ids and batch places reserved; when its prompt is cached, its KV cache is
 * forked into the other choices ({@link EngineBackend#forkSequence}) and each samples its first
 * token from the prompt's last logits with its own seed ({@link ChoiceSeeds}). The prompt is
 * computed once however many choices there are. A preempted choice recomputes its own tokens.
 *
 * <p>Failures end sequences, never the loop: an engine step that fails fails the sequences in it, a
 * failed sampling (or an output that throws) fails its own sequence, and any other failure of a
 * step fails every running sequence. Each frees its KV blocks and hears {@link
 * SequenceOutput.Failure#ENGINE_ERROR}; the next step runs as usual. A failed or cancelled choice
 * ends every choice of its request, and each frees its blocks.
 */
public final class Scheduler implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(Scheduler.class);

  private final EngineBackend engine;
  private final AdapterCatalog catalog;
  private final Executor adapterLoader;
  private final SchedulerMetrics metrics;
  private final LongSupplier clock;
  private final int maxBatchSize;
  private final int stepTokens;
  private final int prefillChunk;
  private final int contextLength;
  private final Set<Integer> eosTokens;
  private final boolean prefixCache;
  private long prefixEvictionsSeen; // the engine's eviction count at the last publish

  private final BlockingQueue<Runnable> inbox = new LinkedBlockingQueue<>();
  private final LoopWrites loopWrites = new LoopWrites(); // engine thread only
  private final PriorityQueue<Sequence> waiting = new PriorityQueue<>(Sequence.ADMISSION_ORDER);
  private final List<Sequence> running = new ArrayList<>(); // admission order
  private final ArrayDeque<Integer> freeSeqIds = new ArrayDeque<>();
  private final AdapterResidency adapters;
  private final SharedPool pool;
  private final List<CompletableFuture<Void>> drainWaiters = new ArrayList<>();
  private final AtomicLong arrivals = new AtomicLong();
  private final AtomicLong tokensGenerated = new AtomicLong();
  private final AtomicInteger pendingSubmissions = new AtomicInteger();
  private int reservedForks; // ids and batch places held for choices not yet forked
  private final int blockSize;
  private final int totalBlocks;
  private final long bytesPerBlock;

  private volatile boolean draining;
  private volatile boolean stopped;
  private volatile SchedulerSnapshot snapshot;
  private volatile Thread thread;

  /**
   * @param engine the engine; the scheduler closes it
   * @param limits batch, step and context limits
   * @param catalog where adapters' files are
   * @param adapterLoader runs adapter loads off the engine thread
   * @param metrics what to report
   * @param clock nanosecond time source (tests pass a fake)
   */
  public Scheduler(
      EngineBackend engine,
      Limits limits,
      AdapterCatalog catalog,
      Executor adapterLoader,
      SchedulerMetrics metrics,
      LongSupplier clock) {
    this.engine = engine;
    this.catalog = catalog;
    this.adapterLoader = adapterLoader;
    this.metrics = metrics;
    this.clock = clock;
    this.maxBatchSize = Math.min(limits.maxBatchSize(), engine.maxSequences());
    this.stepTokens = Math.max(limits.stepTokens(), maxBatchSize);
    this.prefillChunk = Math.max(1, limits.prefillChunk());
    this.eosTokens = Set.copyOf(limits.eosTokens());
    this.prefixCache = limits.prefixCache();
    KvStats kv = engine.kvStats();
    this.blockSize = kv.blockSize();
    this.totalBlocks = kv.totalBlocks();
    this.bytesPerBlock = kv.bytesPerBlock();
    this.adapters =
        new AdapterResidency(
            engine,
            catalog,
            adapterLoader,
            this::post,
            metrics,
            clock,
            bytesPerBlock,
            new AdapterResidency.Limits(limits.maxResidentAdapters(), limits.adapterHostBytes()),
            this::roomForAdapter,
            this::failWaitingFor,
            this::publish);
    this.pool = new SharedPool(engine, adapters);
    this.contextLength = Math.min(limits.contextLength(), totalBlocks * blockSize);
    for (int i = 0; i < engine.maxSequences(); i++) {
      freeSeqIds.add(i);
    }
    publish();
  }

  /**
   * Limits of the scheduler.
   *
   * @param maxBatchSize most running sequences
   * @param stepTokens rows per engine step (raised to the batch size if lower)
   * @param prefillChunk prompt rows a step may carry beside decodes: up to 3/4 of the larger of
   *     this and the number of decoding sequences ({@link #prefillBudget})
   * @param maxResidentAdapters most adapters resident at once ({@link Integer#MAX_VALUE}: as many
   *     as the KV budget holds; 0: none, adapters are refused)
   * @param adapterHostBytes bytes of adapters kept in host memory once evicted from the pool
   * @param contextLength most tokens (prompt plus generated) per sequence; capped by the KV pool
   * @param eosTokens tokens that end generation
   * @param prefixCache whether an admitted sequence adopts the KV blocks the engine has cached for
   *     its tokens ({@link EngineBackend#adoptPrefix}) and computes only the rest
   */
  public record Limits(
      int maxBatchSize,
      int stepTokens,
      int prefillChunk,
      int maxResidentAdapters,
      long adapterHostBytes,
      int contextLength,
      Set<Integer> eosTokens,
      boolean prefixCache) {

    /** Limits with the prefix cache on. */
    public Limits(
        int maxBatchSize,
        int stepTokens,
        int prefillChunk,
        int maxResidentAdapters,
        long adapterHostBytes,
        int contextLength,
        Set<Integer> eosTokens) {
      this(
          maxBatchSize,
          stepTokens,
          prefillChunk,
          maxResidentAdapters,
          adapterHostBytes,
          contextLength,
          eosTokens,
          true);
    }
  }

  // --- any thread -----------------------------------------------------------------------------

  /** Starts the engine thread. */
  public synchronized void start(String name) {
    if (thread != null) {
      return;
    }
    thread = new Thread(this::loop, name);
    thread.setDaemon(true);
    thread.start();
  }

  /** Most choices one request may have here: all of them run in one batch. */
  public int maxChoices() {
    return maxBatchSize;
  }

  /** Tokens per sequence the scheduler serves: prompt plus generated. */
  public int contextLength() {
    return contextLength;
  }

  /**
   * Most adapters resident at once: {@link Integer#MAX_VALUE} when only memory bounds them, 0 when
   * adapters are off.
   */
  public int adapterSlots() {
    return adapters.limits().maxResident();
  }

  public SchedulerSnapshot snapshot() {
    return snapshot;
  }

  public boolean isDraining() {
    return draining;
  }

  /**
   * Queues a sequence.
   *
   * @throws RejectedExecutionException when the scheduler is draining or stopped
   */
  public Sequence submit(SequenceRequest request, SequenceOutput output) {
    return submit(request, List.of(output), null);
  }

  /**
   * Queues a sequence whose tokens {@code constraint} limits (structured output); null means none.
   *
   * @throws RejectedExecutionException when the scheduler is draining or stopped
   */
  public Sequence submit(
      SequenceRequest request, SequenceOutput output, TokenConstraint constraint) {
    return submit(request, List.of(output), constraint);
  }

  /**
   * Queues a request for {@code outputs.size()} choices that share the prompt's KV cache; choice i
   * reports to {@code outputs.get(i)} and samples with {@link ChoiceSeeds#seed}. Cancelling the
   * returned sequence cancels every choice.
   *
   * @throws RejectedExecutionException when the scheduler is draining or stopped
   * @throws IllegalArgumentException when there are more choices than the batch or the sequence ids
   *     hold
   */
  public Sequence submit(SequenceRequest request, List<SequenceOutput> outputs) {
    return submit(request, outputs, null);
  }

  /**
   * Queues a request for {@code outputs.size()} choices, its tokens limited by {@code constraint}
   * (null for none). A constraint keeps one grammar state, so it is for one choice only.
   *
   * @throws RejectedExecutionException when the scheduler is draining or stopped
   * @throws IllegalArgumentException when there are more choices than the batch or the sequence ids
   *     hold, or several choices with a constraint
   */
  public Sequence submit(
      SequenceRequest request, List<SequenceOutput> outputs, TokenConstraint constraint) {
    if (outputs.isEmpty() || outputs.size() > maxChoices()) {
      throw new IllegalArgumentException(
          "n = " + outputs.size() + " is outside 1.." + maxChoices() + " on this worker");
    }
    if (constraint != null && outputs.size() > 1) {
      throw new IllegalArgumentException(
          "n = " + outputs.size() + " with structured output or a forced tool call: only n = 1");
    }
    pendingSubmissions.incrementAndGet();
    try {
      if (draining || stopped) {
        throw new RejectedExecutionException(
            "the worker is shutting down and admits no new requests");
      }
      long arrival = arrivals.getAndIncrement();
      long now = clock.getAsLong();
      int[] ends = endTokens(request);
      Sequence.Group group = new Sequence.Group();
      Sequence lead = new Sequence(request, outputs.get(0), arrival, now, 0, group, ends);
      for (int i = 1; i < outputs.size(); i++) {
        lead.forks.add(
            new Sequence(
                ChoiceSeeds.forChoice(request, i), outputs.get(i), arrival, now, i, group, ends));
      }
      lead.constraint = constraint;
      post(
          () -> {
            pendingSubmissions.decrementAndGet();
            waiting.add(lead);
          });
      return lead;
    } catch (RuntimeException e) {
      pendingSubmissions.decrementAndGet();
      throw e;
    }
  }

  /**
   * Defers a sequence output's write to the end of the engine thread's current pass, where it runs
   * on {@code loop} together with the pass's other writes for that loop ({@link LoopWrites}).
   *
   * @return false when called off the engine thread: the caller writes at once
   */
  public boolean deferWrite(Executor loop, Runnable write) {
    if (Thread.currentThread() != thread) {
      return false;
    }
    loopWrites.add(loop, write);
    return true;
  }

  /** Asks for a sequence to be stopped; it is freed on the engine thread within one step. */
  public void cancel(Sequence seq) {
    seq.cancel();
    post(() -> {});
  }

  /**
   * Loads an adapter if the engine does not hold it and completes with it: resident when the budget
   * has room, else kept in the host tier until a request brings it in.
   */
  public CompletableFuture<LoadedAdapter> loadAdapter(String name) {
    CompletableFuture<LoadedAdapter> future = new CompletableFuture<>();
    post(
        () -> {
          if (!adapters.enabled()) {
            future.completeExceptionally(
                new IllegalStateException("this worker serves no adapters"));
          } else {
            adapters.requestLoad(name, future);
          }
        });
    return future;
  }

  /**
   * Lets go of an adapter: at once when no running sequence uses it, else when the last one
   * finishes. Completes with whether the engine held it (in either tier) or was loading it.
   */
  public CompletableFuture<Boolean> unloadAdapter(String name) {
    CompletableFuture<Boolean> future = new CompletableFuture<>();
    post(
        () -> {
          boolean held = adapters.unload(name);
          publish(); // Stats read after the reply see it gone
          future.complete(held);
        });
    return future;
  }

  /**
   * Stops admitting new requests and completes once every admitted one has finished (the waiting
   * ones included).
   */
  public CompletableFuture<Void> drain() {
    draining = true;
    CompletableFuture<Void> done = new CompletableFuture<>();
    post(() -> drainWaiters.add(done));
    publishLater();
    return done;
  }

  /** Fails every admitted sequence (after a drain's grace period ran out). */
  public void abortAll(String message) {
    post(
        () -> {
          for (Sequence seq : new ArrayList<>(running)) {
            fail(seq, Failure.SHUTTING_DOWN, message);
          }
          for (Sequence seq : new ArrayList<>(waiting)) {
            fail(seq, Failure.SHUTTING_DOWN, message);
          }
        });
  }

  /** Stops the engine thread, fails what is left, frees adapters and closes the engine. */
  @Override
  public void close() {
    draining = true;
    stopped = true;
    Thread t;
    synchronized (this) {
      t = thread;
    }
    if (t != null) {
      post(() -> {});
      try {
        t.join(TimeUnit.SECONDS.toMillis(30));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    runCommands();
    for (Sequence seq : new ArrayList<>(running)) {
      fail(seq, Failure.SHUTTING_DOWN, "the worker stopped");
    }
    for (Sequence seq : new ArrayList<>(waiting)) {
      fail(seq, Failure.SHUTTING_DOWN, "the worker stopped");
    }
    waiting.clear();
    adapters.close();
    engine.close();
  }

  private void post(Runnable command) {
    inbox.add(command);
  }

  private void publishLater() {
    post(this::publish);
  }

  // --- engine thread --------------------------------------------------------------------------

  private void loop() {
    boolean idle = false;
    while (!stopped) {
      try {
        if (idle) {
          Runnable first = inbox.poll(1, TimeUnit.SECONDS);
          if (first != null) {
            first.run();
          }
        }
        idle = !runOnce();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (RuntimeException | Error e) {
        LOG.error("scheduler step failed", e);
        idle = true;
      } finally {
        loopWrites.dispatch();
      }
    }
  }

  /**
   * Applies queued commands and runs one step. The engine thread calls this in a loop; tests call
   * it directly (without {@link #start}) to step the policy one iteration at a time.
   *
   * @return whether the engine ran a step (false: nothing to do until a command arrives)
   */
  public boolean runOnce() {
    runCommands();
    boolean worked;
    try {
      worked = step();
    } catch (RuntimeException | Error e) {
      // Engine calls and sequence outputs fail only the sequences they concern, inside the step.
      // Anything else leaves the step's state unknown: its running sequences fail and free their
      // blocks, so none stays running with nothing left to finish it, and the next step starts
      // clean.
      LOG.error("scheduler step failed; its running sequences fail", e);
      failRunning("the worker's scheduler failed: " + e);
      worked = true;
    }
    checkDrained();
    publish();
    return worked;
  }

  private void runCommands() {
    Runnable command;
    while ((command = inbox.poll()) != null) {
      try {
        command.run();
      } catch (RuntimeException e) {
        LOG.error("scheduler command failed", e);
      }
    }
  }

  private boolean step() {
    dropCancelled();
    admit();
    if (running.isEmpty()) {
      return false;
    }
    List<Chunk> plan = plan();
    if (!fitKv(plan)) {
      return true;
    }
    int rows = 0;
    try {
      engine.clearBatch();
      for (Chunk c : plan) {
        Sequence seq = c.seq;
        boolean embeds = seq.request.embeds();
        for (int i = 0; i < c.rows; i++) {
          int pos = seq.cached + i;
          boolean last = c.samples && i == c.rows - 1;
          if (embeds) {
            boolean hidden = last || seq.request.pooling().needsEveryRow();
            engine.addRow(seq.tokens[pos], seq.seqId, pos, seq.adapter, false, hidden);
          } else {
            engine.addRow(seq.tokens[pos], seq.seqId, pos, seq.adapter, last);
          }
        }
        rows += c.rows;
      }
      engine.decode();
    } catch (KvCacheFullException e) {
      // Our block count disagreed with the engine's; preempt and let the next step retry.
      Sequence victim = preemptionVictim();
      if (victim != null && running.size() > 1) {
        preempt(victim);
      } else {
        fail(plan.get(0).seq, Failure.ENGINE_ERROR, e.getMessage());
      }
      return true;
    } catch (RuntimeException e) {
      // An engine error or any other failure of the step's engine calls: the step's sequences
      // cannot know what their cache holds, so each fails and frees its blocks.
      LOG.errorf(e, "engine step of %d sequences failed", plan.size());
      for (Chunk c : plan) {
        fail(c.seq, Failure.ENGINE_ERROR, "engine step failed: " + describe(e));
      }
      return true;
    }
    metrics.step(plan.size(), rows);
    int promptRows = 0;
    for (Chunk c : plan) {
      promptRows +=
          Math.max(
              0, Math.min(c.seq.cached + c.rows, c.seq.request.prompt().length) - c.seq.cached);
    }
    metrics.promptTokensComputed(promptRows);
    int logitRow = 0;
    int hiddenRow = 0;
    long now = clock.getAsLong();
    for (Chunk c : plan) {
      Sequence seq = c.seq;
      if (seq.finished) {
        continue; // another choice of its request failed
      }
      seq.cached += c.rows;
      if (seq.request.embeds()) {
        int rowsOut = seq.request.pooling().needsEveryRow() ? c.rows : c.samples ? 1 : 0;
        int first = hiddenRow;
        hiddenRow += rowsOut;
        pool(seq, first, rowsOut, c.samples, now);
      } else if (c.samples) {
        int row = logitRow++;
        List<Sequence> choices = List.of(seq);
        try {
          if (!seq.forks.isEmpty()) {
            choices = fork(seq);
          }
        } catch (RuntimeException e) {
          LOG.errorf(e, "forking the choices of %s failed", seq.request.requestId());
          fail(seq, Failure.ENGINE_ERROR, "forking the request's choices failed: " + describe(e));
          continue;
        }
        for (Sequence choice : choices) {
          sampleInto(choice, row, now);
        }
      }
    }
    return true;
  }

  /**
   * Adds an embedding sequence's hidden rows of this step; after its last chunk answers with the
   * pooled vector and finishes, which frees its KV blocks.
   */
  private void pool(Sequence seq, int firstRow, int rows, boolean lastChunk, long now) {
    try {
      if (seq.pooled == null) {
        seq.pooled = new Pooling.Accumulator(seq.request.pooling(), engine.hiddenSize());
      }
      for (int r = 0; r < rows; r++) {
        seq.pooled.add(engine.hidden(firstRow + r));
      }
      if (lastChunk) {
        seq.firstTokenNanos = now;
        seq.lastTokenNanos = now;
        seq.output.onEmbedding(seq.pooled.result());
        finish(seq, FinishReason.STOP);
      }
    } catch (RuntimeException e) {
      LOG.errorf(e, "embedding %s failed after its engine step", seq.request.requestId());
      if (!seq.finished) {
        fail(seq, Failure.ENGINE_ERROR, "pooling failed: " + describe(e));
      }
    }
  }

  /**
   * Gives the lead's cached prompt to the choices waiting for it and starts them; returns the lead
   * and them, in choice order, to sample from the prompt's last logits.
   */
  private List<Sequence> fork(Sequence lead) {
    List<Sequence> choices = new ArrayList<>(1 + lead.forks.size());
    choices.add(lead);
    for (Sequence f : lead.forks) {
      engine.forkSequence(lead.seqId, f.seqId);
      f.cached = lead.cached;
      f.admittedNanos = lead.admittedNanos;
      if (lead.adapter != null) {
        f.adapter = adapters.acquire(lead.request.adapter());
      }
      running.add(f);
      reservedForks--;
      choices.add(f);
    }
    lead.forks.clear();
    return choices;
  }

  private void sampleInto(Sequence seq, int row, long now) {
    if (seq.finished) {
      return; // a choice before it ended the request
    }
    try {
      if (seq.constraint != null) {
        engine.maskLogits(row, seq.constraint.allowedTokens());
      }
      // Each choice reads its own tokens: the shared prompt, then what it generated itself.
      SampledToken token = engine.sample(row, seq.request.sampling(), seq.sampledFrom());
      if (seq.constraint != null) {
        seq.constraint.accept(token.token());
      }
      accept(seq, token, now);
    } catch (RuntimeException e) {
      // Its cache holds a token it never sampled: it cannot go on. The others in the step can.
      LOG.errorf(e, "sequence %s failed after its engine step", seq.request.requestId());
      if (!seq.finished) {
        fail(seq, Failure.ENGINE_ERROR, "sampling failed: " + describe(e));
      }
    }
  }

  private static String describe(RuntimeException e) {
    return e instanceof EngineException || e.getMessage() == null ? e.getMessage() : e.toString();
  }

  /** Fails every running sequence (their state is unknown after a failed step). */
  private void failRunning(String message) {
    for (Sequence seq : new ArrayList<>(running)) {
      try {
        fail(seq, Failure.ENGINE_ERROR, message);
      } catch (RuntimeException e) {
        LOG.errorf(e, "failing sequence %s failed", seq.request.requestId());
      }
    }
  }

  /**
   * Prompt rows a step may carry beside {@code decodes} decode rows. Step time grows with rows (the
   * engine is compute-bound beyond a few rows on a CPU), so beside D decodes a step prefills at
   * most 3/4 of max(D, prefillChunk) rows: once D reaches the chunk, a step with prefill costs at
   * most about 1.75 decode-only steps, and time between tokens stays under twice its usual value (a
   * budget of D rows would put it at 2x, the p99 the worker promises). With nothing decoding,
   * prefill takes the whole step.
   */
  public static int prefillBudget(int decodes, int stepTokens, int prefillChunk) {
    if (decodes == 0) {
      return stepTokens;
    }
    return Math.max(1, Math.min(stepTokens - decodes, Math.max(decodes, prefillChunk) * 3 / 4));
  }

  /**
   * Rows of one sequence in a step. {@code samples}: the chunk ends at the last token, so a new one
   * is sampled.
   */
  private record Chunk(Sequence seq, int rows, boolean samples) {}

  private List<Chunk> plan() {
    List<Chunk> plan = new ArrayList<>(running.size());
    int decodes = 0;
    for (Sequence seq : running) {
      if (seq.pending() == 1) {
        plan.add(new Chunk(seq, 1, true));
        decodes++;
      }
    }
    int budget = prefillBudget(decodes, stepTokens, prefillChunk);
    for (Sequence seq : running) {
      int pending = seq.pending();
      if (pending > 1 && budget > 0) {
        int n = Math.min(pending, budget);
        plan.add(new Chunk(seq, n, n == pending));
        budget -= n;
      }
    }
    return plan;
  }

  /**
   * Makes room for the step's new KV blocks, evicting the least recently used cached blocks and
   * idle adapters first, then preempting; false if the step lost all its rows.
   */
  private boolean fitKv(List<Chunk> plan) {
    while (true) {
      long need = 0;
      for (Chunk c : plan) {
        need += blocks(c.seq.cached + c.rows) - blocks(c.seq.cached);
        if (c.samples) {
          need += c.seq.forks.size(); // each choice forked after the step may copy a partial block
        }
      }
      // A lone sequence may use the whole pool: it borrows the share of the adapter it pins rather
      // than stall.
      if (pool.makeRoom(need, null) || running.size() <= 1) {
        return !plan.isEmpty();
      }
      Sequence victim = preemptionVictim();
      preempt(victim);
      plan.removeIf(c -> c.seq == victim);
    }
  }

  /** Blocks a finished adapter load may take without evicting anything. */
  private long roomForAdapter() {
    return pool.free() - watermark();
  }

  private long blocks(int tokens) {
    return (tokens + blockSize - 1) / blockSize;
  }

  private Sequence preemptionVictim() {
    Sequence victim = null;
    for (Sequence seq : running) {
      if (victim == null || Sequence.PREEMPTION_ORDER.compare(seq, victim) < 0) {
        victim = seq;
      }
    }
    return victim;
  }

  private void preempt(Sequence seq) {
    release(seq);
    seq.cached = 0;
    if (seq.pooled != null) {
      seq.pooled.reset(); // the prompt is recomputed, its hidden states pooled again
    }
    seq.preemptions++;
    waiting.add(seq);
    metrics.preempted();
  }

  /** End-of-sequence tokens and the request's stop token ids. */
  private int[] endTokens(SequenceRequest request) {
    return IntStream.concat(
            eosTokens.stream().mapToInt(Integer::intValue), Arrays.stream(request.stopTokenIds()))
        .distinct()
        .toArray();
  }

  private void accept(Sequence seq, SampledToken sampled, long now) {
    int token = sampled.token();
    seq.append(token);
    tokensGenerated.incrementAndGet();
    metrics.tokensGenerated(1);
    if (seq.firstTokenNanos < 0) {
      seq.firstTokenNanos = now;
      metrics.firstToken(now - seq.arrivalNanos);
    } else {
      metrics.tokenGap(now - seq.lastTokenNanos);
    }
    seq.lastTokenNanos = now;
    boolean stopString = seq.output.onToken(sampled);
    if (stopString) {
      finish(seq, FinishReason.STOP_SEQUENCE);
    } else if (seq.isEnd(token)) {
      finish(seq, FinishReason.STOP);
    } else if (seq.generated() >= seq.request.maxTokens()) {
      finish(
          seq, seq.request.limitedByContext() ? FinishReason.CONTEXT_LENGTH : FinishReason.LENGTH);
    } else if (seq.length >= contextLength) {
      finish(seq, FinishReason.CONTEXT_LENGTH);
    }
  }

  private void admit() {
    List<Sequence> deferred = new ArrayList<>();
    long reserved = 0; // blocks admitted sequences still need for their prompts
    for (Sequence seq : running) {
      reserved += blocks(seq.length) - blocks(seq.cached);
    }
    while (!waiting.isEmpty()
        && running.size() + reservedForks < maxBatchSize
        && !freeSeqIds.isEmpty()) {
      Sequence seq = waiting.peek();
      int width = 1 + seq.forks.size();
      if (running.size() + reservedForks + width > maxBatchSize || freeSeqIds.size() < width) {
        break; // the head waits for room for all its choices
      }
      String name = seq.request.adapter();
      AdapterResidency.Entry adapter = name == null ? null : adapters.find(name);
      if (name != null && adapter == null) {
        if (!catalog.contains(name) || !adapters.enabled()) {
          waiting.poll();
          fail(
              seq, Failure.ADAPTER_NOT_FOUND, "adapter '" + name + "' is not known to this worker");
          continue;
        }
        adapters.startLoad(name); // refused (shutting down): the sequence waits to be failed
        deferred.add(waiting.poll()); // waits for its adapter without holding up the ones behind it
        continue;
      }
      if (adapter != null && adapter.tier == AdapterResidency.Tier.LOADING) {
        deferred.add(waiting.poll());
        continue;
      }
      // a fork copies one partial block; an adapter from the host tier brings its own blocks;
      // cached blocks running sequences hold cost nothing
      long need =
          blocks(seq.length + 1)
              + seq.forks.size()
              + (adapter == null ? 0 : adapters.blocksToAdmit(adapter))
              - sharedPrefixBlocks(seq, adapter);
      // what eviction would free counts: the steps evict in least recently used order as they
      // write
      if (!running.isEmpty()
          && need + reserved > pool.free() + pool.evictable(name) - watermark()) {
        break; // the head waits for room; admitting smaller ones past it would starve it
      }
      if (adapter != null
          && adapter.tier == AdapterResidency.Tier.HOST
          && !adapters.promote(adapter)) {
        break; // at the resident cap with every adapter in use: the head waits for one to idle
      }
      waiting.poll();
      start(seq);
      // adopted blocks left the free count when adopted; the rest of the prompt is still to come
      reserved += blocks(seq.length + 1) - blocks(seq.cached) + seq.forks.size();
    }
    waiting.addAll(deferred);
  }

  /**
   * Blocks kept free at admission so running sequences can grow a little before anyone is
   * preempted.
   */
  private long watermark() {
    return Math.max(1, totalBlocks / 100);
  }

  private void start(Sequence seq) {
    seq.seqId = freeSeqIds.poll();
    for (Sequence f : seq.forks) {
      f.seqId = freeSeqIds.poll();
      reservedForks++;
    }
    long now = clock.getAsLong();
    if (seq.admittedNanos < 0) {
      seq.admittedNanos = now;
      metrics.queued(now - seq.arrivalNanos);
    }
    if (seq.request.adapter() != null) {
      seq.adapter = adapters.acquire(seq.request.adapter());
    }
    running.add(seq);
    adoptCachedPrefix(seq);
  }

  /** Whether a sequence may start from cached KV blocks: its pooling reads every prompt row. */
  private boolean adoptsPrefix(Sequence seq) {
    return prefixCache && seq.cached == 0 && !seq.request.embeds();
  }

  /**
   * Blocks of the engine's cached prefix for {@code seq} that running sequences hold, so admitting
   * it takes them from no one; 0 when its adapter is not resident yet.
   */
  private long sharedPrefixBlocks(Sequence seq, AdapterResidency.Entry entry) {
    if (!adoptsPrefix(seq)) {
      return 0;
    }
    LoadedAdapter adapter = null;
    if (seq.request.adapter() != null) {
      if (entry == null || entry.adapter == null) {
        return 0;
      }
      adapter = entry.adapter;
    }
    try {
      return engine.lookupPrefix(seq.tokens, seq.length, adapter).sharedBlocks();
    } catch (RuntimeException e) {
      LOG.warnf(
          e, "prefix cache lookup failed; the sequence is admitted as if nothing were cached");
      return 0;
    }
  }

  /**
   * Starts a newly admitted (or readmitted, after preemption) sequence from the longest prefix of
   * its tokens the engine has cached, so only the rest is computed; at least its last token is
   * left, whose logits it samples from.
   */
  private void adoptCachedPrefix(Sequence seq) {
    if (!adoptsPrefix(seq)) {
      return;
    }
    int reused;
    try {
      reused = engine.adoptPrefix(seq.seqId, seq.tokens, seq.length, seq.adapter);
    } catch (RuntimeException e) {
      // The engine changed nothing: the sequence computes its whole prompt.
      LOG.warnf(e, "prefix cache adoption failed for %s", seq.requestId());
      return;
    }
    seq.cached = reused;
    metrics.prefixLookup(seq.length, reused);
  }

  /** Frees a running sequence's KV blocks, id and adapter hold, and the ids held for its forks. */
  private void release(Sequence seq) {
    running.remove(seq);
    for (Sequence f : seq.forks) {
      freeSeqIds.add(f.seqId); // never forked into: the engine holds nothing for it
      f.seqId = -1;
      reservedForks--;
    }
    try {
      engine.freeSequence(seq.seqId);
      freeSeqIds.add(seq.seqId);
    } catch (RuntimeException e) {
      // The engine may still hold the id's blocks: the id leaves use rather than hand them on.
      LOG.errorf(e, "freeing sequence id %d failed; the id is retired", seq.seqId);
    }
    seq.seqId = -1;
    if (seq.adapter != null) {
      adapters.release(seq.adapter);
      seq.adapter = null;
    }
  }

  private void finish(Sequence seq, FinishReason reason) {
    release(seq);
    seq.finished = true;
    long now = clock.getAsLong();
    int generated = seq.generated();
    double gap =
        generated > 1 ? (double) (seq.lastTokenNanos - seq.firstTokenNanos) / (generated - 1) : 0;
    seq.output.onFinish(
        new SequenceResult(
            reason,
            seq.request.prompt().length,
            generated,
            seq.admittedNanos - seq.arrivalNanos,
            seq.firstTokenNanos - seq.arrivalNanos,
            gap,
            now - seq.arrivalNanos,
            seq.preemptions));
  }

  /** Fails seq and every unfinished choice of its request, freeing what each holds. */
  private void fail(Sequence seq, Failure failure, String message) {
    end(seq, s -> s.output.onFailure(failure, message));
  }

  /** Ends every unfinished choice of seq's request: frees it, then tells its output. */
  private void end(Sequence seq, Consumer<Sequence> tell) {
    List<Sequence> members = seq.group.members;
    // Running choices free their blocks (a lead also the ids held for its forks); waiting ones
    // hold nothing.
    for (Sequence s : members) {
      if (!s.finished && running.contains(s)) {
        release(s);
      }
      waiting.remove(s);
    }
    for (Sequence s : members) {
      if (s.finished) {
        continue;
      }
      s.forks.clear();
      s.finished = true;
      tell.accept(s);
    }
  }

  private void dropCancelled() {
    for (Sequence seq : new ArrayList<>(running)) {
      if (seq.isCancelled() && !seq.finished) {
        end(seq, s -> s.output.onCancelled());
      }
    }
    for (Sequence seq : new ArrayList<>(waiting)) {
      if (seq.isCancelled() && !seq.finished) {
        end(seq, s -> s.output.onCancelled());
      }
    }
  }

  // --- adapters -------------------------------------------------------------------------------

  /** Fails the waiting requests for an adapter whose load failed. */
  private void failWaitingFor(String adapter, String message) {
    LOG.warn(message);
    for (Sequence seq : new ArrayList<>(waiting)) {
      if (adapter.equals(seq.request.adapter()) && !seq.finished) {
        fail(seq, Failure.ADAPTER_LOAD_FAILED, message);
      }
    }
  }

  // --- state for others -----------------------------------------------------------------------

  private void checkDrained() {
    if (!drainWaiters.isEmpty()
        && waiting.isEmpty()
        && running.isEmpty()
        && pendingSubmissions.get() == 0) {
      drainWaiters.forEach(f -> f.complete(null));
      drainWaiters.clear();
    }
  }

  private void publish() {
    KvStats kv = engine.kvStats();
    metrics.prefixCache(kv.cachedBlocks(), kv.prefixEvictions() - prefixEvictionsSeen);
    prefixEvictionsSeen = kv.prefixEvictions();
    long free = Math.max(0, kv.freeBlocks() - adapters.poolBlocks());
    snapshot =
        new SchedulerSnapshot(
            waiting.size(),
            running.size(),
            (int) free,
            totalBlocks,
            blockSize,
            bytesPerBlock,
            adapters.resident(),
            adapters.loading(),
            adapters.hostCount(),
            adapters.inHost(),
            adapters.poolBytes(),
            adapters.hostBytes(),
            adapters.limits().maxResident(),
            maxBatchSize,
            tokensGenerated.get(),
            draining);
  }

  /** The adapter is not known to this worker. */
  public static final class AdapterNotFoundException extends RuntimeException {
    public AdapterNotFoundException(String name) {
      super("adapter '" + name + "' is not known to this worker");
    }
  }

  /** The adapter's files could not be loaded; the message says why. */
  public static final class AdapterLoadException extends RuntimeException {
    public AdapterLoadException(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
