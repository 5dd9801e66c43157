'use strict';
// A small Markdown renderer for docs/derivation.md (headings with GitHub-style anchors,
// paragraphs, lists, tables, code blocks, inline code, emphasis, links, $math$), so the
// explorer's links to its sections work offline.

const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

// A little TeX to Unicode and HTML: enough for the derivation's formulas to read well.
const SYMBOLS = { times: '×', nabla: '∇', cdot: '·', in: '∈', odot: '⊙', oslash: '⊘', approx: '≈', partial: '∂', ell: 'ℓ',
  sum: 'Σ', infty: '∞', dots: '…', ldots: '…', cdots: '⋯', ge: '≥', geq: '≥', le: '≤', leq: '≤', neq: '≠', to: '→',
  langle: '⟨', rangle: '⟩', lfloor: '⌊', rfloor: '⌋', lVert: '‖', rVert: '‖', lbrace: '{', rbrace: '}',
  Longrightarrow: '⟹', Longleftrightarrow: '⟺', exp: 'exp', ln: 'ln', max: 'max', arg: 'arg', log: 'log',
  qquad: '\u2003\u2003', quad: '\u2003', left: '', right: '', mathrel: '', alpha: 'α', beta: 'β', eta: 'η', lambda: 'λ', sigma: 'σ', mu: 'μ' };
function group(s, i) {
  // The argument at s[i]: a {…} group or one character; returns [text, next index].
  if (s[i] !== '{') return [s[i] || '', i + 1];
  let depth = 0;
  for (let j = i; j < s.length; j++) {
    if (s[j] === '{') depth++;
    else if (s[j] === '}' && --depth === 0) return [s.slice(i + 1, j), j + 1];
  }
  return [s.slice(i + 1), s.length];
}
function tex(s) {
  let out = '';
  for (let i = 0; i < s.length;) {
    const c = s[i];
    if (c === '\\') {
      const m = /^[a-zA-Z]+/.exec(s.slice(i + 1));
      if (!m) { const n = s[i + 1]; out += n === ',' || n === ':' || n === ';' || n === ' ' ? ' ' : n === '|' ? '‖' : n === '\\' ? '<br>' : esc(n || ''); i += 2; continue; }
      const name = m[0];
      i += 1 + name.length;
      if (name === 'frac' || name === 'tfrac') {
        const [a, j] = group(s, i); const [b, k] = group(s, j); i = k;
        out += `(${tex(a)})/(${tex(b)})`;
      } else if (['mathrm', 'text', 'operatorname', 'mathbf', 'mathbb', 'tilde', 'hat', 'sqrt'].includes(name)) {
        const [a, j] = group(s, i); i = j;
        out += name === 'mathbb' && a === 'R' ? 'ℝ' : name === 'mathbf' ? `<b>${tex(a)}</b>` : name === 'sqrt' ? `√(${tex(a)})` :
          name === 'tilde' ? `${tex(a)}\u0303` : name === 'hat' ? `${tex(a)}\u0302` :
          `<span class="upright">${a.includes('\\') ? tex(a) : esc(a)}</span>`;
      } else out += name in SYMBOLS ? SYMBOLS[name] : esc(name);
    } else if (c === '^' || c === '_') {
      const [a, j] = group(s, i + 1); i = j;
      out += c === '^' ? `<sup>${tex(a)}</sup>` : `<sub>${tex(a)}</sub>`;
    } else if (c === '{' || c === '}' || c === ' ') { i++; } else { out += esc(c); i++; }
  }
  return out;
}

function inline(s) {
  const codes = [];
  s = s.replace(/`([^`]+)`/g, (_, c) => { codes.push(`<code>${esc(c)}</code>`); return `\u0000${codes.length - 1}\u0000`; });
  const maths = [];
  s = s.replace(/\$([^$]+)\$/g, (_, m) => { maths.push(`<span class="math">${tex(m)}</span>`); return `\u0001${maths.length - 1}\u0001`; });
  s = esc(s);
  s = s.replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
  s = s.replace(/(^|[^*])\*([^*\s][^*]*)\*/g, '$1<em>$2</em>');
  s = s.replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (_, text, href) => {
    const local = href.startsWith('#');
    const url = local ? href : href.startsWith('http') ? href : `#${''}`;
    return local || href.startsWith('http') ? `<a href="${url}">${text}</a>` : `<span class="ref" title="${href}">${text}</span>`;
  });
  s = s.replace(/\u0001(\d+)\u0001/g, (_, i) => maths[Number(i)]);
  return s.replace(/\u0000(\d+)\u0000/g, (_, i) => codes[Number(i)]);
}

function slug(text, seen) {
  let s = text.toLowerCase().trim().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
  const base = s;
  let n = seen.get(base) || 0;
  if (n > 0) s = `${base}-${n}`;
  seen.set(base, n + 1);
  return s;
}

function render(md) {
  const lines = md.split('\n');
  const out = [];
  const seen = new Map();
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (/^```/.test(line)) {
      const body = [];
      for (i++; i < lines.length && !/^```/.test(lines[i]); i++) body.push(lines[i]);
      i++;
      out.push(`<pre><code>${esc(body.join('\n'))}</code></pre>`);
      continue;
    }
    if (line.trim() === '$$') {
      const body = [];
      for (i++; i < lines.length && lines[i].trim() !== '$$'; i++) body.push(lines[i]);
      i++;
      out.push(`<div class="display-math">${body.map(tex).join('<br>')}</div>`);
      continue;
    }
    const h = /^(#{1,6})\s+(.*)$/.exec(line);
    if (h) {
      const id = slug(h[2].replace(/`/g, ''), seen);
      out.push(`<h${h[1].length} id="${id}"><a class="anchor" href="#${id}">${inline(h[2])}</a></h${h[1].length}>`);
      i++;
      continue;
    }
    if (/^\|/.test(line)) {
      const rows = [];
      for (; i < lines.length && /^\|/.test(lines[i]); i++) rows.push(lines[i]);
      const cells = (r) => r.replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
      const head = cells(rows[0]);
      const body = rows.slice(2).map(cells);
      out.push(`<table class="shapes"><tr>${head.map((c) => `<th>${inline(c)}</th>`).join('')}</tr>${body.map((r) => `<tr>${r.map((c) => `<td>${inline(c)}</td>`).join('')}</tr>`).join('')}</table>`);
      continue;
    }
    if (/^\s*([-*]|\d+\.)\s/.test(line)) {
      const ordered = /^\s*\d+\./.test(line);
      const items = [];
      for (; i < lines.length && /^\s*([-*]|\d+\.)\s|^\s{2,}\S/.test(lines[i]); i++) {
        if (/^\s*([-*]|\d+\.)\s/.test(lines[i])) items.push(lines[i].replace(/^\s*([-*]|\d+\.)\s/, ''));
        else items[items.length - 1] += ` ${lines[i].trim()}`;
      }
      const tag = ordered ? 'ol' : 'ul';
      out.push(`<${tag}>${items.map((t) => `<li>${inline(t)}</li>`).join('')}</${tag}>`);
      continue;
    }
    if (/^>\s?/.test(line)) {
      const body = [];
      for (; i < lines.length && /^>\s?/.test(lines[i]); i++) body.push(lines[i].replace(/^>\s?/, ''));
      out.push(`<blockquote>${inline(body.join(' '))}</blockquote>`);
      continue;
    }
    if (line.trim() === '') { i++; continue; }
    const para = [];
    for (; i < lines.length && lines[i].trim() !== '' && !/^(```|#|\||>|\$\$|\s*([-*]|\d+\.)\s)/.test(lines[i]); i++) para.push(lines[i]);
    out.push(`<p>${inline(para.join(' '))}</p>`);
  }
  return out.join('\n');
}

fetch('/derivation.md').then((r) => r.text()).then((md) => {
  document.getElementById('doc').innerHTML = render(md);
  if (location.hash) {
    const t = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (t) { t.scrollIntoView(); t.classList.add('target'); }
  }
});
