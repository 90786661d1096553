// The version printed by --version; build.ts replaces BUILD_COMMIT at compile time.
import pkg from "../package.json" with { type: "json" };

export const VERSION: string = pkg.version;
declare const BUILD_COMMIT: string | undefined;
export const COMMIT: string = typeof BUILD_COMMIT === "string" ? BUILD_COMMIT : "source";
