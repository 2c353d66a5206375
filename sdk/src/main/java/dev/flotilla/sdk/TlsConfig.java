package dev.flotilla.sdk;

import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * How the client secures its connection to the gateway. The default, {@link #auto()}, is plaintext
 * for a loopback target (a gateway started locally) and TLS with the system trust store otherwise.
 */
public final class TlsConfig {
  private enum Mode {
    AUTO,
    PLAINTEXT,
    SYSTEM_TRUST,
    CUSTOM_CA
  }

  private static final Set<String> LOOPBACK_HOSTS = Set.of("localhost", "::1", "0:0:0:0:0:0:0:1");

  private final Mode mode;
  private final Path caFile;

  private TlsConfig(Mode mode, Path caFile) {
    this.mode = mode;
    this.caFile = caFile;
  }

  /**
   * Plaintext for loopback targets, TLS with the system trust store for every other target.
   *
   * @return the default configuration
   */
  public static TlsConfig auto() {
    return new TlsConfig(Mode.AUTO, null);
  }

  /**
   * No TLS; for local development and tests only, as the API key then travels in the clear.
   *
   * @return a plaintext configuration
   */
  public static TlsConfig plaintext() {
    return new TlsConfig(Mode.PLAINTEXT, null);
  }

  /**
   * TLS, trusting the certificate authorities of the JVM's default trust store.
   *
   * @return a TLS configuration
   */
  public static TlsConfig systemTrust() {
    return new TlsConfig(Mode.SYSTEM_TRUST, null);
  }

  /**
   * TLS, trusting only the certificate authorities in a PEM file, such as a cluster's private CA.
   *
   * @param caFile PEM file with one or more CA certificates
   * @return a TLS configuration
   */
  public static TlsConfig trustedCertificates(Path caFile) {
    return new TlsConfig(Mode.CUSTOM_CA, Objects.requireNonNull(caFile, "caFile"));
  }

  /**
   * @return whether connections to {@code target} use TLS under this configuration
   */
  boolean usesTls(String target) {
    return switch (mode) {
      case AUTO -> !isLoopback(target);
      case PLAINTEXT -> false;
      case SYSTEM_TRUST, CUSTOM_CA -> true;
    };
  }

  ChannelCredentials credentialsFor(String target) {
    if (!usesTls(target)) {
      return InsecureChannelCredentials.create();
    }
    if (mode != Mode.CUSTOM_CA) {
      return TlsChannelCredentials.create();
    }
    try {
      return TlsChannelCredentials.newBuilder().trustManager(caFile.toFile()).build();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read CA certificates from " + caFile, e);
    }
  }

  /**
   * Accepts {@code host:port}, {@code [v6]:port} and URI-style {@code dns:///host:port} targets.
   */
  static boolean isLoopback(String target) {
    String host = hostOf(target);
    return LOOPBACK_HOSTS.contains(host) || host.startsWith("127.");
  }

  static String hostOf(String target) {
    String authority =
        target.contains("://") ? target.substring(target.lastIndexOf('/') + 1) : target;
    if (authority.startsWith("[")) {
      int end = authority.indexOf(']');
      return end > 0 ? authority.substring(1, end) : authority;
    }
    int colon = authority.indexOf(':');
    // More than one colon without brackets is a bare IPv6 address with no port.
    if (colon >= 0 && colon == authority.lastIndexOf(':')) {
      return authority.substring(0, colon).toLowerCase(Locale.ROOT);
    }
    return authority.toLowerCase(Locale.ROOT);
  }

  @Override
  public String toString() {
    return mode == Mode.CUSTOM_CA
        ? "TlsConfig{CUSTOM_CA " + caFile + '}'
        : "TlsConfig{" + mode + '}';
  }
}
