package dev.flotilla.operator.model;

import io.fabric8.kubernetes.api.model.Quantity;
import java.math.BigDecimal;

/** Byte quantities in Kubernetes notation, and back into words people read. */
public final class Quantities {
  public static final long GIB = 1L << 30;
  public static final long MIB = 1L << 20;

  private Quantities() {}

  /** Bytes of {@code 24Gi}, {@code 512Mi}, {@code 1G}, {@code 1000}. */
  public static long bytes(String quantity) {
    BigDecimal amount = Quantity.getAmountInBytes(new Quantity(quantity));
    return amount.setScale(0, java.math.RoundingMode.CEILING).longValueExact();
  }

  /**
   * {@code 38 GiB}, {@code 1.5 GiB}, {@code 512 MiB}: rounded up so a shortfall is never
   * understated.
   */
  public static String human(long bytes) {
    if (bytes >= GIB) {
      double gib = Math.ceil(bytes * 10.0 / GIB) / 10.0;
      return (gib == Math.rint(gib) ? String.valueOf((long) gib) : String.valueOf(gib)) + " GiB";
    }
    return (long) Math.ceil(bytes / (double) MIB) + " MiB";
  }
}
