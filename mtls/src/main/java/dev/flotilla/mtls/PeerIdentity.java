package dev.flotilla.mtls;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.Optional;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * The identity a gRPC caller proved in its TLS handshake, for services that act on who is calling
 * (the autoscaler keys demand by it). {@link #interceptor()} puts it in the call's {@link Context};
 * {@link #current()} reads it there.
 */
public final class PeerIdentity {
  private static final Context.Key<String> KEY = Context.key("flotilla-peer-identity");

  private PeerIdentity() {}

  /** The caller's identity, when the call came over mutual TLS. */
  public static Optional<String> current() {
    return Optional.ofNullable(KEY.get());
  }

  /** The identity of the peer of a TLS session, from its leaf certificate. */
  public static Optional<String> of(SSLSession session) {
    if (session == null) {
      return Optional.empty();
    }
    try {
      Certificate[] chain = session.getPeerCertificates();
      return chain.length > 0 && chain[0] instanceof X509Certificate leaf
          ? Identities.of(leaf)
          : Optional.empty();
    } catch (SSLPeerUnverifiedException e) {
      return Optional.empty();
    }
  }

  /** Attaches the caller's identity (from the transport's TLS session) to each call's Context. */
  public static ServerInterceptor interceptor() {
    return new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(
          ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        Optional<String> identity = of(call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION));
        return identity.isEmpty()
            ? next.startCall(call, headers)
            : Contexts.interceptCall(
                Context.current().withValue(KEY, identity.get()), call, headers, next);
      }
    };
  }
}
