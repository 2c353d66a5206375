package dev.flotilla.gateway.auth;

import dev.flotilla.gateway.status.GatewayStatus;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Turns an {@code authorization} header (gRPC metadata or HTTP) into a tenant. A missing, malformed
 * or unknown key all fail the same way: UNAUTHENTICATED with one generic message.
 */
public final class ApiKeyAuthenticator {
  /** Longer values are not keys; refusing them bounds the hashing work an attacker can cause. */
  static final int MAX_KEY_LENGTH = 512;

  private final TenantDirectory directory;

  public ApiKeyAuthenticator(TenantDirectory directory) {
    this.directory = directory;
  }

  public TenantInfo authenticate(String authorization) {
    String key = bearerToken(authorization);
    if (key == null) {
      throw GatewayStatus.unauthenticated();
    }
    return directory.findByKeyHash(sha256(key)).orElseThrow(GatewayStatus::unauthenticated);
  }

  /** The token of {@code Bearer <token>} (scheme case-insensitive), or null when malformed. */
  static String bearerToken(String header) {
    if (header == null) {
      return null;
    }
    String h = header.strip();
    if (h.length() < 8 || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return null;
    }
    String token = h.substring(7).strip();
    if (token.isEmpty() || token.length() > MAX_KEY_LENGTH) {
      return null;
    }
    for (int i = 0; i < token.length(); i++) {
      char c = token.charAt(i);
      if (c <= ' ' || c > '~') {
        return null;
      }
    }
    return token;
  }

  static byte[] sha256(String key) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every JVM", e);
    }
  }
}
