package dev.flotilla.worker.bench;

import dev.flotilla.worker.engine.Adapter;
import dev.flotilla.worker.engine.Batch;
import dev.flotilla.worker.engine.ContextParams;
import dev.flotilla.worker.engine.EngineContext;
import dev.flotilla.worker.engine.Model;
import dev.flotilla.worker.engine.Sampler;
import dev.flotilla.worker.engine.SamplingParams;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The engine's raw batched decode rate, driven directly through EngineContext the way the scheduler
 * drives it (one row per sequence, each row with an adapter from the pool, greedy sampling of every
 * row), with no scheduler and no gRPC. Prints one JSON line. Usage: {@code EngineDecodeBench
 * MODEL_DIR ADAPTERS_DIR batch pool threads seconds}.
 */
public final class EngineDecodeBench {
  private EngineDecodeBench() {}

  public static void main(String[] args) throws Exception {
    Path modelDir = Path.of(args[0]);
    Path adapters = Path.of(args[1]);
    int batchSize = Integer.parseInt(args[2]);
    int pool = Integer.parseInt(args[3]);
    int threads = Integer.parseInt(args[4]);
    double seconds = Double.parseDouble(args[5]);
    int prompt = 16;
    try (Model model = Model.load(modelDir)) {
      List<Adapter> loaded = new ArrayList<>();
      for (int i = 0; i < pool; i++) {
        loaded.add(model.loadAdapter(adapters.resolve("a" + i)));
      }
      int vocab = model.info().vocabSize();
      ContextParams params =
          new ContextParams(
              16, 1L << 30, Math.max(batchSize * prompt, 256), batchSize, 64, threads);
      try (EngineContext ctx = model.createContext(params)) {
        ByteBuffer logits = ctx.allocateLogits(batchSize);
        Batch batch = new Batch(params.maxBatchTokens());
        int[] last = new int[batchSize];
        for (int s = 0; s < batchSize; s++) {
          for (int p = 0; p < prompt; p++) {
            batch.add(
                1 + (s * 31 + p * 7) % 250,
                s,
                p,
                pool == 0 ? null : loaded.get(s % pool),
                p == prompt - 1);
          }
        }
        ctx.decode(batch, logits);
        int position = prompt;
        long tokens = 0;
        long steps = 0;
        long start = 0;
        long deadline = Long.MAX_VALUE;
        int warmup = 3;
        while (System.nanoTime() < deadline
            && position < 1300) { // 1 GiB of KV holds 1365 positions x 32
          for (int s = 0; s < batchSize; s++) {
            last[s] = Sampler.sample(logits, s, vocab, SamplingParams.greedy(), position).token();
          }
          batch.clear();
          for (int s = 0; s < batchSize; s++) {
            batch.add(last[s], s, position, pool == 0 ? null : loaded.get(s % pool), true);
          }
          ctx.decode(batch, logits);
          position++;
          if (warmup-- == 0) {
            start = System.nanoTime();
            deadline = start + (long) (seconds * 1e9);
          } else if (warmup < 0) {
            tokens += batchSize;
            steps++;
          }
        }
        double elapsed = (System.nanoTime() - start) / 1e9;
        System.out.printf(
            "{\"engine_batch\":%d,\"engine_pool\":%d,\"engine_tokens_per_s\":%.1f,\"engine_step_ms\":%.2f}%n",
            batchSize, pool, tokens / elapsed, elapsed * 1e3 / steps);
      }
      loaded.forEach(Adapter::close);
    }
  }
}
