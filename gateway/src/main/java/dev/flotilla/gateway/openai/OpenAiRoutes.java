package dev.flotilla.gateway.openai;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.gateway.app.GatewayConfig;
import dev.flotilla.gateway.service.GatewayPipeline;
import io.vertx.core.Vertx;
import io.vertx.ext.web.Router;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Clock;

/** Puts the OpenAI-compatible routes on Quarkus' HTTP router (port 8080). */
@ApplicationScoped
public class OpenAiRoutes {
  void register(
      @Observes Router router,
      GatewayPipeline pipeline,
      ObjectMapper mapper,
      Vertx vertx,
      GatewayConfig config) {
    new OpenAiHttp(
            pipeline,
            mapper,
            vertx,
            new OpenAiHttp.Settings(config.http().timeout(), config.http().maxBodyBytes()),
            Clock.systemUTC())
        .register(router);
  }
}
