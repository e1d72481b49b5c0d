/**
 * The dashboard: one self-contained page (inline CSS and JS, no external assets, so it works on an
 * air-gapped host and under a strict CSP). It polls /api/status every STATUS_REFRESH_MS and each shown
 * database's /api/ltx every TIMELINE_REFRESH_MS (the server caches listings), and updates the DOM in
 * place. All text goes in through textContent: paths and error messages are never parsed as HTML.
 * Each value carries data-field (and data-value with the raw number) so tests can read it.
 */

/** Status poll period (ms): live enough to watch a TXID move, cheap because it reads memory only. */
const STATUS_REFRESH_MS = 2_000;
/** Timeline poll period (ms): matches the server's listing cache, so each poll may cost a listing. */
const TIMELINE_REFRESH_MS = 15_000;
/** Databases whose timeline is drawn without a click: 100 databases must not mean 1000 LISTs. */
const TIMELINES_OPEN = 12;

const CSS = `
:root{--bg:#0f1419;--card:#171d24;--line:#2a323c;--fg:#d8dee6;--dim:#8a96a3;--ok:#3fb950;--warn:#d29922;--bad:#f85149;--acc:#58a6ff}
*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;align-items:center;gap:16px;padding:14px 24px;border-bottom:1px solid var(--line)}
h1{font-size:18px;margin:0;font-weight:600}.sub{color:var(--dim);font-size:12px}
main{padding:16px 24px;display:grid;gap:14px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 16px}
.top{display:flex;align-items:baseline;gap:10px;flex-wrap:wrap}.name{font-weight:600;font-size:15px}
.path{color:var(--dim);font-size:12px;font-family:ui-monospace,Menlo,monospace;word-break:break-all}
.chip{font-size:11px;padding:2px 8px;border-radius:10px;text-transform:uppercase;letter-spacing:.04em;font-weight:600}
.healthy{background:#12361f;color:var(--ok)}.degraded{background:#3b2e0c;color:var(--warn)}.unhealthy{background:#42181a;color:var(--bad)}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:8px 16px;margin-top:10px}
.k{color:var(--dim);font-size:11px;text-transform:uppercase;letter-spacing:.04em}.v{font-family:ui-monospace,Menlo,monospace;font-size:13px}
.err{margin-top:8px;color:var(--bad);font-size:12px;font-family:ui-monospace,Menlo,monospace;white-space:pre-wrap}
.reason{color:var(--dim);font-size:12px}
details{margin-top:10px}summary{cursor:pointer;color:var(--acc);font-size:12px}
svg{display:block;width:100%;height:auto;margin-top:6px}svg text{fill:var(--dim);font-size:10px;font-family:ui-monospace,monospace}
.empty{color:var(--dim);padding:40px;text-align:center}
`;

const SCRIPT = `
"use strict";
var STATUS_MS = ${STATUS_REFRESH_MS}, TIMELINE_MS = ${TIMELINE_REFRESH_MS}, OPEN = ${TIMELINES_OPEN};
var cards = new Map(), lastTimeline = new Map();
function el(tag, cls, text){var e=document.createElement(tag);if(cls)e.className=cls;if(text!=null)e.textContent=text;return e;}
function bytes(n){if(n==null)return "-";var u=["B","KiB","MiB","GiB","TiB"],i=0;while(n>=1024&&i<u.length-1){n/=1024;i++;}return (i?n.toFixed(1):String(n))+" "+u[i];}
function ago(ms,now){if(!ms)return "never";var s=Math.max(0,(now-ms)/1000);if(s<60)return s.toFixed(0)+"s ago";if(s<3600)return (s/60).toFixed(0)+"m ago";return (s/3600).toFixed(1)+"h ago";}
function field(grid,name,label){var w=el("div");w.appendChild(el("div","k",label));var v=el("div","v","-");v.dataset.field=name;w.appendChild(v);grid.appendChild(w);return v;}
function set(v,text,raw){v.textContent=text;if(raw!=null)v.dataset.value=String(raw);else delete v.dataset.value;}
function makeCard(d,index){
  var c=el("section","card");c.dataset.db=d.db;
  var top=el("div","top");var name=el("span","name",d.db.split("/").pop());var chip=el("span","chip");chip.dataset.field="health";
  top.appendChild(name);top.appendChild(chip);top.appendChild(el("span","path",d.db+"  \\u2192  "+d.replica));c.appendChild(top);
  var reason=el("div","reason");reason.dataset.field="reason";c.appendChild(reason);
  var grid=el("div","grid");c.appendChild(grid);
  var f={chip:chip,reason:reason,txid:field(grid,"txid","TXID"),replicaTXID:field(grid,"replica-txid","Replica TXID"),lag:field(grid,"lag","Lag"),
    wal:field(grid,"wal-size","WAL size"),walFile:field(grid,"wal-file-size","-wal file"),dbSize:field(grid,"db-size","DB size"),
    pending:field(grid,"pending","Pending uploads"),lastSync:field(grid,"last-sync","Last sync"),lastUpload:field(grid,"last-upload","Last upload"),breaker:field(grid,"breaker","Breaker")};
  f.err=el("div","err");f.err.dataset.field="last-error";c.appendChild(f.err);
  var det=el("details");det.open=index<OPEN;det.appendChild(el("summary",null,"Restore points by level"));
  f.timeline=el("div");f.timeline.dataset.field="timeline";det.appendChild(f.timeline);c.appendChild(det);
  det.addEventListener("toggle",function(){if(det.open)loadTimeline(d.db,true);});
  f.details=det;return {el:c,f:f};
}
function update(card,d,now){
  var f=card.f;f.chip.textContent=d.health.status;f.chip.className="chip "+d.health.status;f.reason.textContent=d.health.reason;
  set(f.txid,d.txid||"-",d.txidDecimal);set(f.replicaTXID,d.replicaTXID||"-",d.replicaTXIDDecimal);
  set(f.lag,d.lagSeconds==null?"-":d.lagSeconds.toFixed(1)+" s",d.lagSeconds);
  set(f.wal,bytes(d.walBytes),d.walBytes);set(f.walFile,bytes(d.walFileBytes),d.walFileBytes);set(f.dbSize,bytes(d.dbBytes),d.dbBytes);
  set(f.pending,d.pendingUploads==null?"-":String(d.pendingUploads),d.pendingUploads);
  set(f.lastSync,ago(d.lastSyncAt,now),d.lastSyncAt);set(f.lastUpload,ago(d.lastUploadAt,now),d.lastUploadAt);set(f.breaker,d.breaker||"-",null);
  f.err.textContent=d.lastError?("last error ("+ago(d.lastError.at,now)+"): "+d.lastError.message):"";
}
function drawTimeline(box,listing){
  box.textContent="";
  if(listing.error){box.appendChild(el("div","err","listing failed: "+listing.error));return;}
  if(!listing.levels.length){box.appendChild(el("div","reason","no files on the replica yet"));return;}
  var ns="http://www.w3.org/2000/svg",W=900,row=22,left=44,H=listing.levels.length*row+22;
  var min=Infinity,max=listing.listedAt;
  listing.levels.forEach(function(l){l.files.forEach(function(x){if(x.createdAt<min)min=x.createdAt;});});
  if(!(min<max))min=max-60000;
  var svg=document.createElementNS(ns,"svg");svg.setAttribute("viewBox","0 0 "+W+" "+H);
  function x(t){return left+(W-left-8)*(t-min)/(max-min);}
  function t(tag,a,txt){var e=document.createElementNS(ns,tag);for(var k in a)e.setAttribute(k,a[k]);if(txt!=null)e.textContent=txt;svg.appendChild(e);return e;}
  listing.levels.forEach(function(l,i){
    var y=i*row+12;t("text",{x:0,y:y+4},"L"+l.level+" ("+l.count+")");
    t("line",{x1:left,x2:W-8,y1:y,y2:y,stroke:"#2a323c"});
    l.files.forEach(function(fl){
      var r=t("rect",{x:x(fl.createdAt)-1.5,y:y-7,width:3,height:14,rx:1,fill:l.level===9?"#d29922":"#58a6ff"});
      r.dataset.level=String(l.level);
      var tip=document.createElementNS(ns,"title");tip.textContent="L"+l.level+" "+fl.minTXID+"-"+fl.maxTXID+", "+bytes(fl.size)+", "+new Date(fl.createdAt).toISOString();r.appendChild(tip);
    });
  });
  t("text",{x:left,y:H-2},new Date(min).toLocaleString());t("text",{x:W-8,y:H-2,"text-anchor":"end"},"now");
  box.appendChild(svg);
}
function loadTimeline(db,force){
  var card=cards.get(db);if(!card||!card.f.details.open)return;
  var last=lastTimeline.get(db)||0;if(!force&&Date.now()-last<TIMELINE_MS)return;lastTimeline.set(db,Date.now());
  fetch("api/ltx?db="+encodeURIComponent(db)).then(function(r){return r.json();}).then(function(l){drawTimeline(card.f.timeline,l);card.el.dataset.timelineLoaded="1";}).catch(function(){});
}
function refresh(){
  fetch("api/status").then(function(r){return r.json();}).then(function(s){
    var main=document.getElementById("dbs"),seen=new Set();
    document.getElementById("overall").textContent=s.health;document.getElementById("overall").className="chip "+s.health;
    document.getElementById("count").textContent=s.databases.length+" database"+(s.databases.length===1?"":"s");
    s.databases.forEach(function(d,i){
      seen.add(d.db);var card=cards.get(d.db);
      if(!card){card=makeCard(d,i);cards.set(d.db,card);main.appendChild(card.el);}
      update(card,d,s.now);loadTimeline(d.db,false);
    });
    cards.forEach(function(c,db){if(!seen.has(db)){c.el.remove();cards.delete(db);}});
    var empty=document.getElementById("empty");empty.hidden=s.databases.length>0;
    document.getElementById("updated").textContent="updated "+new Date(s.now).toLocaleTimeString();
    document.body.dataset.refreshes=String(Number(document.body.dataset.refreshes||0)+1);
  }).catch(function(e){document.getElementById("updated").textContent="cannot reach walship: "+e;});
}
refresh();setInterval(refresh,STATUS_MS);
`;

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>walship</title><style>${CSS}</style></head>
<body><header><h1>walship</h1><span id="overall" class="chip">&hellip;</span><span id="count" class="sub"></span>
<span id="updated" class="sub" style="margin-left:auto"></span></header>
<main id="dbs"><div id="empty" class="empty" hidden>No databases yet. Globs are re-scanned every few seconds.</div></main>
<script>${SCRIPT}</script></body></html>
`;
