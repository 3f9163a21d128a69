// A single OpenSearch node for Eddy's connector tests, started the way OpenSearch's own test
// framework starts nodes (MockNode): a Node subclass that takes plugin classes from the
// classpath, here the Netty4 HTTP/transport plugin. No security plugin, no plugins directory.
//
// Usage: java -cp 'lib/*:classes' EddyOpenSearchNode key=value ...
// Every key=value argument is a node setting (path.home is required); see opensearch.sh.

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

public final class EddyOpenSearchNode {

    /** Like the test framework's MockNode: classpath plugins, private index settings forbidden. */
    static final class ClasspathPluginNode extends Node {
        ClasspathPluginNode(Environment environment, Collection<Class<? extends Plugin>> classpathPlugins) {
            super(environment, classpathPlugins, true);
        }
    }

    public static void main(String[] args) throws Exception {
        Settings.Builder builder = Settings.builder()
            .put("cluster.name", "eddy-test")
            .put("node.name", "eddy-test-node")
            .put("network.host", "127.0.0.1")
            .put("http.port", "19200")
            .put("transport.port", "19300")
            .put("discovery.type", "single-node")
            .put("action.auto_create_index", true)
            // a test node on a shared disk: never turn indexes read-only over disk watermarks
            .put("cluster.routing.allocation.disk.threshold_enabled", false);
        for (String arg : args) {
            int eq = arg.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("expected key=value, got: " + arg);
            }
            builder.put(arg.substring(0, eq), arg.substring(eq + 1));
        }
        Settings settings = builder.build();
        if (!settings.hasValue("path.home")) {
            throw new IllegalArgumentException("path.home=DIR is required");
        }
        String nodeName = settings.get("node.name");
        Path config = Path.of(settings.get("path.home")).resolve("config");
        Files.createDirectories(config);

        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            settings, Collections.emptyMap(), config, () -> nodeName);
        LogConfigurator.registerErrorListener();
        LogConfigurator.setNodeName(nodeName);
        LogConfigurator.configure(environment); // reads config/log4j2.properties

        Node node = new ClasspathPluginNode(environment, List.of(Netty4Plugin.class));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "eddy-opensearch-shutdown"));
        node.start();
        System.out.println("eddy-opensearch-node started: http "
            + settings.get("network.host") + ":" + settings.get("http.port"));
        stopped.await();
    }
}
