// Realtime Pulse browser client: one site's live updates from `pulse gateway`, with resume.
// No build step and no dependency; embed it with <script src=".../pulse-client.js"> and use
// window.PulseClient. It reads the stream with fetch (so it can send Authorization and see the
// gateway's refusal reasons), drops repeats by seq, and resumes with Last-Event-ID after any
// drop, backing off between attempts.
(function (global) {
  "use strict";

  const CALLBACKS = {
    intent_created: "onIntentCreated",
    intent_updated: "onIntentUpdated",
    call_created: "onCallCreated",
    call_updated: "onCallUpdated",
    event_created: "onEventCreated",
    data_freshness: "onDataFreshness",
    kpi_updated: "onKpiUpdated",
    chart_refresh: "onChartRefresh",
    conversion_sealed: "onConversionSealed",
    session_heartbeat: "onSessionHeartbeat",
    pulse_status: "onPulseStatus",
    snapshot: "onSnapshot",
    reset: "onReset",
  };

  class PulseClient {
    // options: siteId (required), getToken() -> token or Promise of one (called on every
    // connect), baseUrl ("" = same origin), callbacks {onIntentCreated, ...,
    // onStateChange(state)}, offlineAfterMs (not connected this long: "offline"),
    // maxBackoffMs.
    constructor(options) {
      this.siteId = options.siteId;
      this.baseUrl = options.baseUrl || "";
      this.getToken = options.getToken;
      this.callbacks = options.callbacks || {};
      this.offlineAfterMs = options.offlineAfterMs ?? 15000;
      this.maxBackoffMs = options.maxBackoffMs ?? 10000;
      this.isConnected = false;
      this.lastEventAt = null;
      this.eventCount = 0;
      this.error = null;
      this.status = "connecting";
      this.lastSeq = null;
      this._abort = null;
      this._stopped = false;
      this._backoffMs = 250;
      this._lostAt = Date.now();
      this._retryTimer = null;
      this._offlineTimer = null;
    }

    start() {
      this._stopped = false;
      this._connect();
      return this;
    }

    stop() {
      this._stopped = true;
      clearTimeout(this._retryTimer);
      clearTimeout(this._offlineTimer);
      if (this._abort) this._abort.abort();
      this._setConnected(false, "offline");
    }

    // Drops the current stream (if any) and connects again at once, resuming after lastSeq.
    reconnect() {
      clearTimeout(this._retryTimer);
      this._backoffMs = 250;
      this._stopped = false;
      if (this._abort) this._abort.abort();
      this._connect();
    }

    _emit(name, payload) {
      const callback = this.callbacks[name];
      if (typeof callback === "function") {
        try {
          callback(payload, this);
        } catch (err) {
          console.error("pulse-client: callback " + name + " failed", err);
        }
      }
    }

    _setConnected(connected, status) {
      this.isConnected = connected;
      if (connected) {
        clearTimeout(this._offlineTimer);
      } else if (this.status === "live") {
        this._lostAt = Date.now();
      }
      const previous = this.status;
      this.status = status;
      if (!connected && status === "reconnecting") {
        clearTimeout(this._offlineTimer);
        const left = Math.max(0, this.offlineAfterMs - (Date.now() - this._lostAt));
        this._offlineTimer = setTimeout(() => {
          if (!this.isConnected) this._setConnected(false, "offline");
        }, left);
      }
      if (previous !== status || status === "live") this._emit("onStateChange", this);
    }

    _fail(message, retry) {
      this.error = message;
      this._setConnected(false, retry ? (this.status === "offline" ? "offline" : "reconnecting") : "offline");
      if (retry && !this._stopped) {
        this._retryTimer = setTimeout(() => this._connect(), this._backoffMs);
        this._backoffMs = Math.min(this._backoffMs * 2, this.maxBackoffMs);
      }
    }

    async _connect() {
      if (this._stopped) return;
      const abort = new AbortController();
      this._abort = abort;
      let token;
      try {
        token = typeof this.getToken === "function" ? await this.getToken() : null;
      } catch (err) {
        this._fail("could not get a token: " + err, true);
        return;
      }
      const headers = { Accept: "text/event-stream" };
      if (token) headers.Authorization = "Bearer " + token;
      if (this.lastSeq !== null) headers["Last-Event-ID"] = String(this.lastSeq);
      const url = this.baseUrl + "/sites/" + encodeURIComponent(this.siteId) + "/updates";
      let response;
      try {
        response = await fetch(url, { headers, signal: abort.signal, cache: "no-store" });
      } catch (err) {
        if (abort.signal.aborted) return;
        this._fail("gateway unreachable", true);
        return;
      }
      if (!response.ok) {
        const reason = (await response.text().catch(() => "")).trim();
        const message = response.status + ": " + (reason || response.statusText);
        // A refused token or site will be refused again: stop and say why.
        this._fail(message, response.status >= 500);
        return;
      }
      this.error = null;
      this._backoffMs = 250;
      this._setConnected(true, "live");
      try {
        await this._read(response.body.getReader(), abort);
      } catch (err) {
        if (abort.signal.aborted) return;
      }
      if (abort.signal.aborted || this._stopped) return;
      this._fail("connection lost", true);
    }

    async _read(reader, abort) {
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          this._block(block, abort);
        }
      }
    }

    _block(block, abort) {
      let event = "message";
      let id = null;
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("id: ")) id = line.slice(4);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (!data) return;
      const payload = JSON.parse(data);
      if (id !== null) {
        const seq = Number(id);
        if (event !== "snapshot" && this.lastSeq !== null && seq <= this.lastSeq) return;
        this.lastSeq = seq;
      }
      if (event === "auth_expired") {
        // A new token is fetched on the next connect.
        abort.abort();
        this.reconnect();
        return;
      }
      if (event === "access_revoked") {
        abort.abort();
        this._fail("access revoked: " + (payload.detail || ""), false);
        return;
      }
      if (event === "disconnect") {
        abort.abort();
        this._fail("disconnected: " + (payload.reason || ""), true);
        return;
      }
      if (event === "reset") this.lastSeq = null;
      if (event !== "snapshot" && event !== "reset") {
        this.eventCount += 1;
        this.lastEventAt = new Date();
      }
      const name = CALLBACKS[event];
      if (name) this._emit(name, payload);
      this._emit("onStateChange", this);
    }
  }

  global.PulseClient = PulseClient;
})(typeof window !== "undefined" ? window : globalThis);
