// The dashboard is a static bundle: `npm run build` writes web/dist, which the local cloud serves at /
// (infra/local/frontdoor.py) and the CDK app ships to the web bucket. Everything is bundled from npm;
// nothing is fetched from a CDN at run time.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
});
