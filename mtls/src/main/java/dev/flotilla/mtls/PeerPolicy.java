package dev.flotilla.mtls;

import java.util.Set;
import java.util.function.Predicate;

/**
 * Which identities a TLS endpoint accepts from its peer, with a description for the refusal.
 *
 * @param description what the peer must be, e.g. {@code "spiffe://flotilla.dev/gateway"}
 */
public record PeerPolicy(String description, Predicate<String> accepts) {
  /** Only {@code identity}. */
  public static PeerPolicy exactly(String identity) {
    return new PeerPolicy(identity, identity::equals);
  }

  /** Any of {@code identities}. */
  public static PeerPolicy anyOf(Set<String> identities) {
    return new PeerPolicy("one of " + identities, identities::contains);
  }
}
