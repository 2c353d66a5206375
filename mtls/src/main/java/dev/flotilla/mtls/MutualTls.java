package dev.flotilla.mtls;

import io.grpc.ChannelCredentials;
import io.grpc.ServerCredentials;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettySslContextServerCredentials;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.util.function.Supplier;
import javax.net.ssl.SSLException;

/**
 * Both ends of an internal gRPC link with mutual TLS, from the files a Secret volume mounts: each
 * side presents its certificate ({@link ReloadingKeyManager}) and accepts only a peer whose
 * certificate chains to the trust bundle and names an identity it expects ({@link
 * IdentityTrustManager}). The material is read at each handshake, so renewal and CA rotation need
 * no restart; connections already open keep the identity they were opened with.
 */
public final class MutualTls {
  private MutualTls() {}

  /**
   * A gRPC server's TLS context that demands a client certificate: a caller without one, with one
   * from another CA, or with an identity {@code clients} does not accept fails the handshake and
   * reaches no service (health included).
   */
  public static SslContext serverContext(ReloadingCredentials credentials, PeerPolicy clients)
      throws SSLException {
    return GrpcSslContexts.configure(
            SslContextBuilder.forServer(new ReloadingKeyManager(credentials)))
        .trustManager(new IdentityTrustManager(credentials, clients))
        .clientAuth(ClientAuth.REQUIRE)
        .build();
  }

  /** {@link #serverContext} as gRPC server credentials (grpc-netty). */
  public static ServerCredentials serverCredentials(
      ReloadingCredentials credentials, PeerPolicy clients) throws SSLException {
    return NettySslContextServerCredentials.create(serverContext(credentials, clients));
  }

  /** Credentials for a channel to a server that must prove {@code server}'s identity. */
  public static ChannelCredentials channelCredentials(
      ReloadingCredentials credentials, PeerPolicy server) {
    return channelCredentials(credentials, () -> server);
  }

  /**
   * As {@link #channelCredentials(ReloadingCredentials, PeerPolicy)}, with the expected identity
   * read at each handshake.
   */
  public static ChannelCredentials channelCredentials(
      ReloadingCredentials credentials, Supplier<PeerPolicy> server) {
    return TlsChannelCredentials.newBuilder()
        .keyManager(new ReloadingKeyManager(credentials))
        .trustManager(new IdentityTrustManager(credentials, server))
        .build();
  }
}
