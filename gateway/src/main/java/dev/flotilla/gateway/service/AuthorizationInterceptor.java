package dev.flotilla.gateway.service;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.enterprise.context.ApplicationScoped;

/** Hands the {@code authorization} metadata to the service through the call's Context. */
@ApplicationScoped
@GlobalInterceptor
public class AuthorizationInterceptor implements ServerInterceptor {
  static final Metadata.Key<String> HEADER =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  static final Context.Key<String> AUTHORIZATION = Context.key("flotilla-authorization");

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    Context ctx = Context.current().withValue(AUTHORIZATION, headers.get(HEADER));
    return Contexts.interceptCall(ctx, call, headers, next);
  }
}
