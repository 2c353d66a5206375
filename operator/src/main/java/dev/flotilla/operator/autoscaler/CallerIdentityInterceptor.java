package dev.flotilla.operator.autoscaler;

import dev.flotilla.mtls.PeerIdentity;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import jakarta.enterprise.context.ApplicationScoped;

/** Hands the demand stream the identity its caller proved in the TLS handshake. */
@ApplicationScoped
public class CallerIdentityInterceptor implements ServerInterceptor {
  private final ServerInterceptor delegate = PeerIdentity.interceptor();

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    return delegate.interceptCall(call, headers, next);
  }
}
