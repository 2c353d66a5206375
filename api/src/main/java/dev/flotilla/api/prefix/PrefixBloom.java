package dev.flotilla.api.prefix;

import com.google.protobuf.ByteString;
import dev.flotilla.api.worker.v1.PrefixFilter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The {@link PrefixFilter} a worker reports its held prefix keys in, and the test the gateway reads
 * it with. A Bloom filter rather than a list of keys: at 10 bits and 7 probes per key it is a sixth
 * of a list's 8 bytes per key, for about 1% false positives (a request then routed as if its prefix
 * were held, which costs a cache miss and nothing else). Keys are already uniform 64-bit hashes, so
 * the probes derive from the key itself (Kirsch and Mitzenmacher's double hashing).
 */
public final class PrefixBloom {
  public static final int BITS_PER_KEY = 10;
  public static final int HASHES = 7;

  public static final PrefixBloom EMPTY = new PrefixBloom(new long[0], HASHES);

  private final long[] words;
  private final int hashes;

  private PrefixBloom(long[] words, int hashes) {
    this.words = words;
    this.hashes = hashes;
  }

  /** A filter holding {@code count} keys of {@code keys}. */
  public static PrefixFilter build(long[] keys, int count) {
    if (count == 0) {
      return PrefixFilter.getDefaultInstance();
    }
    long[] words = new long[Math.max(1, (count * BITS_PER_KEY + 63) / 64)];
    long bits = 64L * words.length;
    for (int i = 0; i < count; i++) {
      long h1 = keys[i];
      long h2 = step(h1);
      for (int j = 0; j < HASHES; j++) {
        long bit = Long.remainderUnsigned(h1 + j * h2, bits);
        words[(int) (bit >>> 6)] |= 1L << bit;
      }
    }
    ByteBuffer buf = ByteBuffer.allocate(words.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    buf.asLongBuffer().put(words);
    return PrefixFilter.newBuilder()
        .setBits(ByteString.copyFrom(buf.array()))
        .setHashes(HASHES)
        .setKeys(count)
        .build();
  }

  /** Reads a reported filter; an empty or malformed one holds nothing. */
  public static PrefixBloom of(PrefixFilter filter) {
    int size = filter.getBits().size();
    if (size == 0 || size % 8 != 0 || filter.getHashes() < 1 || filter.getHashes() > 32) {
      return EMPTY;
    }
    long[] words = new long[size / 8];
    filter
        .getBits()
        .asReadOnlyByteBuffer()
        .order(ByteOrder.LITTLE_ENDIAN)
        .asLongBuffer()
        .get(words);
    return new PrefixBloom(words, filter.getHashes());
  }

  /** False when the key is certainly not in the set; true when it is, or by chance. */
  public boolean mightContain(long key) {
    if (words.length == 0) {
      return false;
    }
    long bits = 64L * words.length;
    long h2 = step(key);
    for (int j = 0; j < hashes; j++) {
      long bit = Long.remainderUnsigned(key + j * h2, bits);
      if ((words[(int) (bit >>> 6)] & (1L << bit)) == 0) {
        return false;
      }
    }
    return true;
  }

  /** A second hash of the key for the probes' step; odd, so never 0. */
  private static long step(long key) {
    long k = key ^ (key >>> 33);
    k *= 0xff51afd7ed558ccdL;
    k ^= k >>> 33;
    return k | 1;
  }
}
