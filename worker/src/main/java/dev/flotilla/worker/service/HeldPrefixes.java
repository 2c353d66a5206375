package dev.flotilla.worker.service;

import dev.flotilla.api.prefix.PrefixBloom;
import dev.flotilla.api.prefix.PrefixKeys;
import dev.flotilla.api.worker.v1.PrefixFilter;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The prompt prefixes this worker prefilled lately, as its Stats report them to gateways for
 * prefix-aware routing: each prefix key with the tokens it adds to the key before it, least
 * recently used first out once they add up to more than the KV cache holds in tokens. A prefix
 * cache evicts the same way (least recently used blocks, the longest prefixes of a chain before its
 * shorter ones), so the set approximates what the cache can still serve.
 *
 * <p>A request's keys are recorded when it is admitted, not when its prefill ends: a gateway that
 * sees the report routes requests with that prefix here, where the blocks are being computed.
 */
public final class HeldPrefixes {
  /** Keys reported at most: 20 KB of filter. */
  static final int MAX_KEYS = 16_384;

  /** Key -> tokens it adds to the key before it; iteration order is least recent first. */
  private final LinkedHashMap<Long, Integer> tokens = new LinkedHashMap<>(64, 0.75f, true);

  private long heldTokens;
  private PrefixFilter filter = PrefixFilter.getDefaultInstance();
  private boolean stale;

  /**
   * Records a prompt's prefixes as the most recently used.
   *
   * @param promptTokens the prompt's tokens, spread over its keys by the input each key covers
   * @param kvTokens the KV cache's size in tokens: the most the held prefixes add up to
   */
  public synchronized void prefilled(PrefixKeys.Chain chain, int promptTokens, long kvTokens) {
    if (chain.size() == 0) {
      return;
    }
    // Longest prefix first, so its shorter prefixes end up more recent and leave after it.
    for (int i = chain.size() - 1; i >= 0; i--) {
      int t =
          (int)
              Math.max(
                  1,
                  Math.round((double) promptTokens * chain.span(i) / Math.max(1, chain.length())));
      Integer old = tokens.put(chain.keys()[i], t);
      heldTokens += t - (old == null ? 0 : old);
    }
    Iterator<Map.Entry<Long, Integer>> lru = tokens.entrySet().iterator();
    while (lru.hasNext() && (heldTokens > kvTokens || tokens.size() > MAX_KEYS)) {
      heldTokens -= lru.next().getValue();
      lru.remove();
    }
    stale = true;
  }

  /** The held keys as the filter a report carries; rebuilt only after a change. */
  public synchronized PrefixFilter filter() {
    if (stale) {
      long[] keys = new long[tokens.size()];
      int i = 0;
      for (long k : tokens.keySet()) {
        keys[i++] = k;
      }
      filter = PrefixBloom.build(keys, keys.length);
      stale = false;
    }
    return filter;
  }

  synchronized int size() {
    return tokens.size();
  }

  synchronized long heldTokens() {
    return heldTokens;
  }
}
