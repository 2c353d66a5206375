package dev.flotilla.mtls.ca;

import java.time.Duration;

/**
 * Lifetimes of the internal CA and of the certificates it issues.
 *
 * <p>Every certificate is renewed once two thirds of its life have passed ({@link
 * CertificateAuthority#renewAt}): a workload certificate of 30 days is replaced after 20, leaving
 * 10 days in which a failed renewal can be noticed and fixed before anything expires. The CA
 * follows the same rule, in two steps: at two thirds of its life a successor joins every trust
 * bundle, and only after {@code caPropagation} (time for every mounted bundle to be updated and
 * reloaded) does it start signing. The old CA stays in the bundles until it expires, so
 * certificates it signed stay valid to the end of their (capped) lives.
 *
 * @param caLifetime how long a CA certificate is valid
 * @param workloadLifetime how long a gateway, operator or worker certificate is valid (capped at
 *     its CA's expiry)
 * @param caPropagation how long a new CA is trusted before it signs
 */
public record CertificatePolicy(
    Duration caLifetime, Duration workloadLifetime, Duration caPropagation) {
  /** 365 days, 30 days, 1 hour. */
  public static final CertificatePolicy DEFAULT =
      new CertificatePolicy(Duration.ofDays(365), Duration.ofDays(30), Duration.ofHours(1));

  public CertificatePolicy {
    if (caLifetime.compareTo(CertificateAuthority.CLOCK_SKEW.multipliedBy(10)) < 0) {
      throw new IllegalArgumentException("the CA lifetime " + caLifetime + " is too short");
    }
    if (workloadLifetime.isNegative()
        || workloadLifetime.isZero()
        || workloadLifetime.compareTo(caLifetime) > 0) {
      throw new IllegalArgumentException(
          "the workload lifetime "
              + workloadLifetime
              + " must be positive and no longer than the CA lifetime "
              + caLifetime);
    }
    // The successor is created at 2/3 of the CA's life and must sign before the CA expires.
    if (caPropagation.isNegative() || caPropagation.compareTo(caLifetime.dividedBy(3)) >= 0) {
      throw new IllegalArgumentException(
          "the CA propagation time "
              + caPropagation
              + " must be shorter than a third of the CA lifetime "
              + caLifetime);
    }
  }
}
