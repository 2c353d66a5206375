package dev.flotilla.mtls.ca;

/** What a workload certificate may be used for (its extended key usage). */
public enum Usage {
  /** Presented by a TLS client: the gateway. */
  CLIENT,
  /** Presented by a TLS server: workers and the operator's demand stream. */
  SERVER
}
