package dev.flotilla.gateway.route;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** A consistent-hash ring of worker ids with virtual nodes; immutable. */
final class HashRing {
  static final int VIRTUAL_NODES = 64;

  private final long[] points;
  private final String[] owners;
  private final int members;

  HashRing(List<String> ids) {
    long[][] pairs = new long[ids.size() * VIRTUAL_NODES][];
    List<String> sorted = ids.stream().sorted().toList();
    int k = 0;
    for (int i = 0; i < sorted.size(); i++) {
      for (int v = 0; v < VIRTUAL_NODES; v++) {
        pairs[k++] = new long[] {hash(sorted.get(i) + "#" + v), i};
      }
    }
    Arrays.sort(pairs, (a, b) -> Long.compare(a[0], b[0]));
    points = new long[pairs.length];
    owners = new String[pairs.length];
    for (int i = 0; i < pairs.length; i++) {
      points[i] = pairs[i][0];
      owners[i] = sorted.get((int) pairs[i][1]);
    }
    members = sorted.size();
  }

  /** Every member once, in clockwise order from the key's point on the ring. */
  List<String> order(String key) {
    if (members == 0) {
      return List.of();
    }
    int i = Arrays.binarySearch(points, hash(key));
    if (i < 0) {
      i = -i - 1;
    }
    Set<String> seen = new LinkedHashSet<>();
    for (int n = 0; n < points.length && seen.size() < members; n++) {
      seen.add(owners[(i + n) % points.length]);
    }
    return new ArrayList<>(seen);
  }

  /** 64-bit FNV-1a with MurmurHash3's finaliser for avalanche. */
  static long hash(String s) {
    long h = 0xcbf29ce484222325L;
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      h ^= b & 0xff;
      h *= 0x100000001b3L;
    }
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    h *= 0xc4ceb9fe1a85ec53L;
    h ^= h >>> 33;
    return h;
  }
}
