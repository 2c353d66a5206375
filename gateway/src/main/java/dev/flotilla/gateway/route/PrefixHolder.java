package dev.flotilla.gateway.route;

/** Which prompt prefixes (by {@link dev.flotilla.api.prefix.PrefixKeys} key) a worker holds. */
@FunctionalInterface
public interface PrefixHolder {
  PrefixHolder NONE = key -> false;

  boolean holds(long key);

  /**
   * How many of a request's keys, shortest prefix first, the worker holds before the first it does
   * not: the length of its longest matching prefix, in keys. Walking up from the shortest stops at
   * the first miss, so a filter's false positive can lengthen a match by one key at most.
   */
  default int matched(long[] keys) {
    int n = 0;
    while (n < keys.length && holds(keys[n])) {
      n++;
    }
    return n;
  }
}
