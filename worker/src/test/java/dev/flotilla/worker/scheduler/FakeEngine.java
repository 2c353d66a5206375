package dev.flotilla.worker.scheduler;

import dev.flotilla.worker.engine.InvalidEngineArgumentException;
import dev.flotilla.worker.engine.KvCacheFullException;
import dev.flotilla.worker.engine.KvStats;
import dev.flotilla.worker.engine.ModelFormatException;
import dev.flotilla.worker.engine.SampledToken;
import dev.flotilla.worker.engine.SamplingParams;
import dev.flotilla.worker.engine.SequenceTokens;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An engine without a model for scheduler tests. Its paged KV cache keeps the tokens of each
 * sequence and counts blocks as the native one does; the "logits" of a row are the row's whole
 * history and adapter, and sampling hashes them, so a sequence's tokens depend only on its own
 * prompt, adapter and steps, exactly as batch invariance promises for the real engine. It checks
 * what the native engine checks (positions follow the cache, adapters are live, KV blocks are free)
 * and throws the same exceptions.
 */
final class FakeEngine implements EngineBackend {
  static final int VOCAB = 1000;
  static final int EOS = 1;

  private final int maxSequences;
  private final int blockSize;
  private final int totalBlocks;
  private final List<List<Integer>> cache = new ArrayList<>();
  private final List<int[]> rows = new ArrayList<>(); // token, seq, pos, wantLogits
  private final List<LoadedAdapter> rowAdapters = new ArrayList<>();
  private final List<String> logitKeys = new ArrayList<>();
  private final Set<Object> liveAdapters = new HashSet<>();
  final List<Integer> rowsPerStep = new ArrayList<>();
  final List<String> loads = new ArrayList<>();
  final List<String> frees = new ArrayList<>();
  final Map<String, Long> adapterBytes = new LinkedHashMap<>();
  SequenceTokens lastSampled; // what the last sample call read
  final List<Sampled> samples = new ArrayList<>(); // every sample call, in order

  /** One sample call: its parameters and a copy of the sequence it read. */
  record Sampled(SamplingParams params, int[] tokens, int promptLength, int[] endTokens) {}

  long lruClock; // what kvStats reports as the KV release clock
  // Reclaimable cached blocks by release stamp, oldest first: counted in the free blocks, as the
  // native engine counts them, and never taken by a decode here (a test sets them up beside it).
  final ArrayDeque<Long> cachedStamps = new ArrayDeque<>();
  long reclaimed;
  int eosAtLength = -1; // when set, a sequence that reaches this length produces EOS
  RuntimeException failNextDecode; // when set, the next decode throws it and changes nothing
  long failSampleSeed = Long.MIN_VALUE; // sampling with this seed throws, as the native one can

  FakeEngine(int maxSequences, int blockSize, int totalBlocks) {
    this.maxSequences = maxSequences;
    this.blockSize = blockSize;
    this.totalBlocks = totalBlocks;
    for (int i = 0; i < maxSequences; i++) {
      cache.add(new ArrayList<>());
    }
  }

  private int blocks(int tokens) {
    return (tokens + blockSize - 1) / blockSize;
  }

  int usedBlocks() {
    return cache.stream().mapToInt(c -> blocks(c.size())).sum();
  }

  int liveAdapters() {
    return liveAdapters.size();
  }

  @Override
  public int vocabSize() {
    return VOCAB;
  }

  @Override
  public int maxSequences() {
    return maxSequences;
  }

  @Override
  public KvStats kvStats() {
    int free = totalBlocks - usedBlocks();
    int cached = cachedStamps.size();
    long oldest = cached == 0 ? 0 : cachedStamps.peekFirst();
    return new KvStats(
        blockSize, totalBlocks, free, 4096, cached, cached, 0, 0, 0, reclaimed, lruClock, oldest);
  }

  @Override
  public int reclaimCachedBlocks(long notAfter, int maxBlocks) {
    int n = 0;
    while (n < maxBlocks && !cachedStamps.isEmpty() && cachedStamps.peekFirst() <= notAfter) {
      cachedStamps.pollFirst();
      n++;
    }
    reclaimed += n;
    return n;
  }

  @Override
  public void clearBatch() {
    rows.clear();
    rowAdapters.clear();
  }

  @Override
  public void addRow(
      int token, int seqId, int position, LoadedAdapter adapter, boolean wantLogits) {
    rows.add(new int[] {token, seqId, position, wantLogits ? 1 : 0});
    rowAdapters.add(adapter);
  }

  @Override
  public void decode() {
    if (failNextDecode != null) {
      RuntimeException e = failNextDecode;
      failNextDecode = null;
      throw e;
    }
    Map<Integer, int[]> span = new LinkedHashMap<>(); // seq -> first pos, last pos
    for (int i = 0; i < rows.size(); i++) {
      int[] r = rows.get(i);
      if (rowAdapters.get(i) != null && !liveAdapters.contains(rowAdapters.get(i).handle())) {
        throw new InvalidEngineArgumentException("row " + i + ": adapter is not loaded");
      }
      int[] s = span.get(r[1]);
      if (s == null) {
        if (r[2] > cache.get(r[1]).size()) {
          throw new InvalidEngineArgumentException(
              "row " + i + ": position " + r[2] + " past the cache");
        }
        span.put(r[1], new int[] {r[2], r[2]});
      } else {
        if (r[2] != s[1] + 1) {
          throw new InvalidEngineArgumentException("row " + i + ": position does not follow");
        }
        s[1] = r[2];
      }
    }
    int need = 0;
    for (Map.Entry<Integer, int[]> e : span.entrySet()) {
      need += Math.max(0, blocks(e.getValue()[1] + 1) - blocks(cache.get(e.getKey()).size()));
    }
    if (need > totalBlocks - usedBlocks()) {
      throw new KvCacheFullException("need " + need + " blocks");
    }
    logitKeys.clear();
    for (int i = 0; i < rows.size(); i++) {
      int[] r = rows.get(i);
      List<Integer> c = cache.get(r[1]);
      while (c.size() > r[2]) {
        c.remove(c.size() - 1);
      }
      c.add(r[0]);
      if (r[3] == 1) {
        LoadedAdapter a = rowAdapters.get(i);
        logitKeys.add((a == null ? "" : a.name()) + ":" + c);
      }
    }
    rowsPerStep.add(rows.size());
  }

  @Override
  public SampledToken sample(int logitRow, SamplingParams params, SequenceTokens sequence) {
    long step = sequence.step();
    lastSampled = sequence;
    samples.add(
        new Sampled(
            params,
            Arrays.copyOf(sequence.tokens(), sequence.length()),
            sequence.promptLength(),
            sequence.endTokens().clone()));
    if (params.seed() == failSampleSeed) {
      throw new InvalidEngineArgumentException("sample: logits have no finite maximum");
    }
    String key = logitKeys.get(logitRow);
    int length = key.split(",").length;
    if (eosAtLength > 0 && length >= eosAtLength) {
      return new SampledToken(EOS, 0f);
    }
    int h = key.hashCode() * 31 + Long.hashCode(params.seed() * 7 + step);
    return new SampledToken(2 + Math.floorMod(h, VOCAB - 2), -1f);
  }

  @Override
  public void freeSequence(int seqId) {
    cache.get(seqId).clear();
  }

  @Override
  public void forkSequence(int srcSeqId, int dstSeqId) {
    if (!cache.get(dstSeqId).isEmpty()) {
      throw new InvalidEngineArgumentException("fork into a sequence that is not empty");
    }
    cache.get(dstSeqId).addAll(cache.get(srcSeqId));
  }

  @Override
  public LoadedAdapter loadAdapter(String name, Path dir) {
    loads.add(name);
    if (dir.toString().contains("broken")) {
      throw new ModelFormatException(dir + "/adapter_model.safetensors: truncated header");
    }
    Object handle = new Object();
    synchronized (liveAdapters) {
      liveAdapters.add(handle);
    }
    return new LoadedAdapter(
        name, handle, 8, List.of("q_proj"), adapterBytes.getOrDefault(name, 0L));
  }

  @Override
  public void freeAdapter(LoadedAdapter adapter) {
    frees.add(adapter.name());
    synchronized (liveAdapters) {
      liveAdapters.remove(adapter.handle());
    }
  }

  @Override
  public void close() {}

  static int[] tokens(int n, int seed) {
    int[] t = new int[n];
    Arrays.setAll(t, i -> 2 + Math.floorMod(seed * 131 + i * 17, VOCAB - 2));
    return t;
  }
}
