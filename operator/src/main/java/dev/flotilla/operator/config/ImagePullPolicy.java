package dev.flotilla.operator.config;

import java.util.Arrays;
import java.util.stream.Collectors;

/** A container's {@code imagePullPolicy}; the constants are spelled as Kubernetes spells them. */
public enum ImagePullPolicy {
  Always,
  IfNotPresent,
  Never;

  /**
   * Reads the exact Kubernetes spelling only, so that what the operator writes into worker pods is
   * what was configured, and anything else stops the operator at startup with the allowed values.
   */
  public static final class Converter
      implements org.eclipse.microprofile.config.spi.Converter<ImagePullPolicy> {
    @Override
    public ImagePullPolicy convert(String value) {
      String trimmed = value.trim();
      return Arrays.stream(values())
          .filter(policy -> policy.name().equals(trimmed))
          .findFirst()
          .orElseThrow(
              () ->
                  new IllegalArgumentException(
                      "image pull policy \""
                          + value
                          + "\" is not one of "
                          + Arrays.stream(values())
                              .map(Enum::name)
                              .collect(Collectors.joining(", "))));
    }
  }
}
