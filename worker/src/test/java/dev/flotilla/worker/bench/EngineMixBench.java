package dev.flotilla.worker.bench;

import dev.flotilla.worker.engine.Adapter;
import dev.flotilla.worker.engine.Batch;
import dev.flotilla.worker.engine.ContextParams;
import dev.flotilla.worker.engine.EngineContext;
import dev.flotilla.worker.engine.Model;
import dev.flotilla.worker.engine.Sampler;
import dev.flotilla.worker.engine.SamplingParams;
import dev.flotilla.worker.scheduler.Scheduler;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The engine doing the worker benchmark's work with no scheduler and no gRPC: {@code streams}
 * closed-loop sequences, each a prompt of {@code prompt} tokens then {@code maxTokens} greedy
 * tokens with a random adapter from the pool, a finished sequence replaced at once by a new one.
 * Each step is planned the way the worker's scheduler plans it (every decoding sequence one row,
 * then prompt rows up to the step's prefill budget), so the rows the engine runs match the worker's
 * and the ratio of the two rates is what the scheduler, the detokenizer and gRPC cost. Output
 * tokens are counted after a ramp of a quarter of the time, as the worker benchmark does. Prints
 * one JSON line. Usage: {@code EngineMixBench MODEL_DIR ADAPTERS_DIR streams pool threads seconds
 * prompt max_tokens}.
 */
public final class EngineMixBench {
  // The worker's defaults (application.properties) and bench/worker/run.sh's settings.
  private static final int STEP_TOKENS = 256;
  private static final int PREFILL_CHUNK = 32;

  private EngineMixBench() {}

  /** One slot's current sequence. */
  private static final class Slot {
    final int seqId;
    int[] tokens;
    int length; // tokens known (prompt + generated)
    int cached; // tokens already in the KV cache
    int generated;
    Adapter adapter;

    Slot(int seqId) {
      this.seqId = seqId;
    }

    int pending() {
      return length - cached;
    }
  }

  public static void main(String[] args) throws Exception {
    Path modelDir = Path.of(args[0]);
    Path adapters = Path.of(args[1]);
    int streams = Integer.parseInt(args[2]);
    int pool = Integer.parseInt(args[3]);
    int threads = Integer.parseInt(args[4]);
    double seconds = Double.parseDouble(args[5]);
    int prompt = Integer.parseInt(args[6]);
    int maxTokens = Integer.parseInt(args[7]);
    Random random = new Random(7);
    try (Model model = Model.load(modelDir)) {
      List<Adapter> loaded = new ArrayList<>();
      for (int i = 0; i < pool; i++) {
        loaded.add(model.loadAdapter(adapters.resolve("a" + i)));
      }
      int vocab = model.info().vocabSize();
      ContextParams params = new ContextParams(16, 1L << 30, STEP_TOKENS, streams, 64, threads);
      try (EngineContext ctx = model.createContext(params)) {
        ByteBuffer logits = ctx.allocateLogits(streams);
        Batch batch = new Batch(STEP_TOKENS);
        List<Slot> slots = new ArrayList<>();
        for (int s = 0; s < streams; s++) {
          Slot slot = new Slot(s);
          restart(
              slot, prompt, maxTokens, pool == 0 ? null : loaded.get(random.nextInt(pool)), random);
          slots.add(slot);
        }
        long start = System.nanoTime();
        long measureFrom = start + (long) (seconds * 0.25e9);
        long end = start + (long) (seconds * 1e9);
        long tokens = 0;
        List<Slot> sampled = new ArrayList<>();
        while (System.nanoTime() < end) {
          batch.clear();
          sampled.clear();
          int decodes = 0;
          for (Slot slot : slots) {
            if (slot.pending() == 1) {
              batch.add(slot.tokens[slot.cached], slot.seqId, slot.cached, slot.adapter, true);
              sampled.add(slot);
              decodes++;
            }
          }
          int budget = Scheduler.prefillBudget(decodes, STEP_TOKENS, PREFILL_CHUNK);
          List<int[]> chunks = new ArrayList<>();
          for (Slot slot : slots) {
            int pending = slot.pending();
            if (pending > 1 && budget > 0) {
              int n = Math.min(pending, budget);
              for (int i = 0; i < n; i++) {
                int pos = slot.cached + i;
                boolean last = n == pending && i == n - 1;
                batch.add(slot.tokens[pos], slot.seqId, pos, slot.adapter, last);
              }
              if (n == pending) {
                sampled.add(slot);
              }
              chunks.add(new int[] {slot.seqId, n});
              budget -= n;
            }
          }
          ctx.decode(batch, logits);
          for (Slot slot : slots) {
            if (slot.pending() == 1) {
              slot.cached++;
            }
          }
          for (int[] c : chunks) {
            slots.get(c[0]).cached += c[1];
          }
          long now = System.nanoTime();
          // logit rows are in batch order: the decodes first, then each chunk that ends its prompt
          for (int row = 0; row < sampled.size(); row++) {
            Slot slot = sampled.get(row);
            int token =
                Sampler.sample(logits, row, vocab, SamplingParams.greedy(), slot.generated).token();
            slot.tokens[slot.length++] = token;
            slot.generated++;
            if (now >= measureFrom) {
              tokens++;
            }
            if (slot.generated == maxTokens) {
              ctx.freeSequence(slot.seqId);
              restart(
                  slot,
                  prompt,
                  maxTokens,
                  pool == 0 ? null : loaded.get(random.nextInt(pool)),
                  random);
            }
          }
        }
        double elapsed = (System.nanoTime() - measureFrom) / 1e9;
        System.out.printf(
            "{\"engine_mix_streams\":%d,\"engine_mix_pool\":%d,\"engine_mix_prompt\":%d,\"engine_mix_max_tokens\":%d,"
                + "\"engine_mix_tokens_per_s\":%.1f}%n",
            streams, pool, prompt, maxTokens, tokens / elapsed);
      }
      loaded.forEach(Adapter::close);
    }
  }

  /** A new sequence in the slot: the same prompt shape as WorkerBench's requests. */
  private static void restart(
      Slot slot, int prompt, int maxTokens, Adapter adapter, Random random) {
    slot.tokens = new int[prompt + maxTokens];
    slot.tokens[0] = 256;
    for (int i = 1; i < prompt; i++) {
      slot.tokens[i] = 258 + random.nextInt(2000);
    }
    slot.length = prompt;
    slot.cached = 0;
    slot.generated = 0;
    slot.adapter = adapter;
  }
}
