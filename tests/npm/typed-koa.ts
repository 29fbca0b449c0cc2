// Compiled with `tsc --noEmit -p tsconfig.koa.json` (types.test.mjs): the Koa
// middleware with Koa's own types (@types/koa), where app.use takes it, and
// misuse that must not compile.
import Koa from "koa";
import { threetoneWebhook as koaWebhook } from "threetone-webhooks/koa";

const koa = new Koa();
// onEvent's context is Koa's own once annotated; else the adapter's KoaLikeContext.
koa.use(koaWebhook({ path: "/webhooks/threetone", secret: "k", onEvent: (received, ctx: Koa.Context) => void [received.event, ctx.state, ctx.ip] }));
koa.use(koaWebhook({ secret: "k", onEvent: (received, ctx) => void [received.event, ctx.state.user, ctx.status] }));
koa.use(koaWebhook({ secret: "k", maxBodyBytes: 1024 }));
// @ts-expect-error: a secret is required
koa.use(koaWebhook({ path: "/hook" }));
// @ts-expect-error: unknown option
koa.use(koaWebhook({ secret: "k", maxAge: 5 }));
// @ts-expect-error: without the annotation, the context is the adapter's shape, which has no ip
koa.use(koaWebhook({ secret: "k", onEvent: (_received, ctx) => void ctx.ip }));
// @ts-expect-error: the path is a string
koa.use(koaWebhook({ secret: "k", path: /hook/ }));
