package dev.flotilla.gateway.usage;

import java.security.SecureRandom;
import java.util.UUID;

/**
 * Gateway-assigned usage event ids: UUIDv7 (RFC 9562), 48 bits of epoch milliseconds then 74 random
 * bits. Time-ordered, so a consumer's dedupe index stays append-mostly; random enough that two
 * gateways never pick the same one. A client cannot choose or repeat it.
 */
public final class EventIds {
  private static final SecureRandom RANDOM = new SecureRandom();

  private EventIds() {}

  /** A new UUIDv7 for an event that ends at {@code epochMillis}. */
  public static String next(long epochMillis) {
    byte[] r = new byte[10];
    RANDOM.nextBytes(r);
    long msb =
        (epochMillis & 0xFFFF_FFFF_FFFFL) << 16 | 0x7000L | ((r[0] & 0x0FL) << 8) | (r[1] & 0xFFL);
    long lsb = 0x8000_0000_0000_0000L | ((r[2] & 0x3FL) << 56);
    for (int i = 3; i < 10; i++) {
      lsb |= (r[i] & 0xFFL) << (8 * (9 - i));
    }
    return new UUID(msb, lsb).toString();
  }
}
