package dev.flotilla.operator.certs;

import dev.flotilla.mtls.Identities;
import dev.flotilla.mtls.MutualTls;
import dev.flotilla.mtls.PeerPolicy;
import dev.flotilla.mtls.ReloadingCredentials;
import dev.flotilla.mtls.TlsFiles;
import dev.flotilla.operator.config.OperatorSettings;
import io.quarkus.grpc.api.ServerBuilderCustomizer;
import io.quarkus.grpc.runtime.config.GrpcServerConfiguration;
import io.vertx.grpc.VertxServerBuilder;
import jakarta.enterprise.context.ApplicationScoped;
import java.nio.file.Path;
import javax.net.ssl.SSLException;
import org.jboss.logging.Logger;

/**
 * Puts the operator's gRPC server (9200: the demand stream, and gRPC health) behind mutual TLS: it
 * presents the operator's certificate, mounted from its Secret and reloaded as it is renewed, and
 * accepts only callers that present the gateway's certificate from the internal CA. Anyone else
 * fails the handshake and reaches no service. Kubelet probes use the HTTP port (8082).
 *
 * <p>Quarkus' own TLS settings would read the files once at start; the SSL context set here reads
 * them at each handshake.
 */
@ApplicationScoped
public class MutualTlsServer implements ServerBuilderCustomizer<VertxServerBuilder> {
  private static final Logger LOG = Logger.getLogger(MutualTlsServer.class);
  private final OperatorSettings.Mtls settings;

  public MutualTlsServer(OperatorSettings settings) {
    this.settings = settings.mtls();
  }

  @Override
  public void customize(GrpcServerConfiguration config, VertxServerBuilder builder) {
    if (!settings.enabled()) {
      LOG.warn(
          "flotilla.operator.mtls.enabled=false: the demand stream accepts anyone in plaintext");
      return;
    }
    try {
      builder
          .nettyBuilder()
          .sslContext(
              MutualTls.serverContext(
                  new ReloadingCredentials(
                      new TlsFiles(Path.of(settings.dir())), settings.reloadInterval()),
                  PeerPolicy.exactly(Identities.GATEWAY)));
    } catch (SSLException e) {
      throw new IllegalStateException("cannot set up TLS on the demand stream", e);
    }
    LOG.infof("demand stream: mutual TLS, certificate from %s, clients: gateways", settings.dir());
  }
}
