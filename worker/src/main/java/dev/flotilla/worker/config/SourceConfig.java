package dev.flotilla.worker.config;

import io.smallrye.config.ConfigMapping;
import java.time.Duration;
import java.util.Optional;

/**
 * Where model and adapter sources are read from and downloaded to, prefix {@code
 * flotilla.worker.sources}. {@code application.properties} maps the environment variables named on
 * each method, the usual ones of the Hugging Face and AWS tools among them.
 */
@ConfigMapping(prefix = "flotilla.worker.sources")
public interface SourceConfig {
  /** {@code FLOTILLA_PVC_ROOT}: {@code pvc://CLAIM/path} is read at {@code <root>/CLAIM/path}. */
  String pvcRoot();

  /** {@code FLOTILLA_CACHE_DIR}: where hf:// and s3:// downloads are kept. */
  String cacheDir();

  /** {@code HF_ENDPOINT}: the Hub or a mirror that serves the same paths. */
  String hubEndpoint();

  /** {@code HF_TOKEN}: sent to the Hub endpoint for private and gated repositories. */
  Optional<String> hubToken();

  /** {@code AWS_ENDPOINT_URL_S3} (or {@code AWS_ENDPOINT_URL}): an S3-compatible store. */
  Optional<String> s3Endpoint();

  /** {@code AWS_REGION}: the S3 signing region; the SDK's chain, else us-east-1, when unset. */
  Optional<String> s3Region();

  /** {@code FLOTILLA_DOWNLOAD_STALL_TIMEOUT}: how long a download may receive nothing. */
  Duration stallTimeout();

  /** {@code FLOTILLA_DOWNLOAD_ATTEMPTS}: tries per file within one fetch; each resumes. */
  int attempts();
}
