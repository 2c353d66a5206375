package dev.flotilla.api.crd;

/** Group, version and the shared validation patterns of Flotilla's custom resources. */
public final class FlotillaResources {
  public static final String GROUP = "flotilla.dev";
  public static final String VERSION = "v1alpha1";
  public static final String API_VERSION = GROUP + "/" + VERSION;

  /** Go-style durations as Kubernetes users write them: {@code 90s}, {@code 5m}, {@code 1h30m}. */
  public static final String DURATION_PATTERN = "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$";

  /** Byte quantities in Kubernetes notation: {@code 512Mi}, {@code 24Gi}, {@code 1000000}. */
  public static final String QUANTITY_PATTERN = "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$";

  /** Where model and adapter files come from. */
  public static final String SOURCE_PATTERN = "^(file|pvc|hf|s3)://.+$";

  /** A Kubernetes object name (RFC 1123 subdomain). */
  public static final String NAME_PATTERN = "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$";

  private FlotillaResources() {}
}
