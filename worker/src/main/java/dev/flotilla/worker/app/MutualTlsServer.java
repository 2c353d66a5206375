package dev.flotilla.worker.app;

import dev.flotilla.mtls.Identities;
import dev.flotilla.mtls.MutualTls;
import dev.flotilla.mtls.PeerPolicy;
import dev.flotilla.mtls.ReloadingCredentials;
import dev.flotilla.mtls.TlsFiles;
import dev.flotilla.worker.config.MtlsConfig;
import io.quarkus.grpc.api.ServerBuilderCustomizer;
import io.quarkus.grpc.runtime.config.GrpcServerConfiguration;
import io.vertx.grpc.VertxServerBuilder;
import jakarta.enterprise.context.ApplicationScoped;
import java.nio.file.Path;
import javax.net.ssl.SSLException;
import org.jboss.logging.Logger;

/**
 * Puts the worker's gRPC server behind mutual TLS: it presents the certificate the operator issued
 * for this model, and accepts only callers presenting the gateway's certificate from the same CA.
 * Anyone else (no certificate, another CA, another identity) fails the handshake and reaches no
 * method: not Generate, not LoadAdapter, not Stats, not health. Kubelet probes use HTTP (8081).
 *
 * <p>Quarkus' own TLS settings would read the files once at start; the SSL context set here reads
 * them at each handshake, so a renewed certificate or a rotated CA needs no restart.
 */
@ApplicationScoped
public class MutualTlsServer implements ServerBuilderCustomizer<VertxServerBuilder> {
  private static final Logger LOG = Logger.getLogger(MutualTlsServer.class);
  private final MtlsConfig config;

  public MutualTlsServer(MtlsConfig config) {
    this.config = config;
  }

  @Override
  public void customize(GrpcServerConfiguration grpc, VertxServerBuilder builder) {
    if (!config.enabled()) {
      LOG.warn("flotilla.worker.mtls.enabled=false: the gRPC port accepts anyone in plaintext");
      return;
    }
    try {
      builder
          .nettyBuilder()
          .sslContext(
              MutualTls.serverContext(
                  new ReloadingCredentials(
                      new TlsFiles(Path.of(config.dir())), config.reloadInterval()),
                  PeerPolicy.exactly(Identities.GATEWAY)));
    } catch (SSLException e) {
      throw new IllegalStateException("cannot set up TLS on the gRPC port", e);
    }
    LOG.infof("gRPC: mutual TLS, certificate from %s, clients: gateways", config.dir());
  }
}
