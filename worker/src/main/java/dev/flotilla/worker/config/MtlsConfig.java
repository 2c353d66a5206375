package dev.flotilla.worker.config;

import io.smallrye.config.ConfigMapping;
import java.time.Duration;

/**
 * Mutual TLS on the worker's gRPC port, prefix {@code flotilla.worker.mtls}. The operator mounts
 * the workers' TLS Secret and sets {@code FLOTILLA_MTLS_DIR}; {@code application.properties} maps
 * it.
 */
@ConfigMapping(prefix = "flotilla.worker.mtls")
public interface MtlsConfig {
  /** {@code FLOTILLA_MTLS_ENABLED}: false only where plaintext is meant (tests). */
  boolean enabled();

  /** {@code FLOTILLA_MTLS_DIR}: tls.crt, tls.key and ca.crt, as the Secret volume mounts them. */
  String dir();

  /** How often the files are looked at again for a renewed certificate or a new trust bundle. */
  Duration reloadInterval();
}
