// The dashboard's only script (no inline scripts: the CSP forbids them).
// 1. Starts govuk-frontend's components.
// 2. Live lists: any element with data-live-url is refreshed by short polling of an HTML
//    fragment; a change is announced politely to screen readers; polling pauses while the tab
//    is hidden and stops for good once the fragment says data-live-final="true".
// 3. Long actions: a form with data-progress shows that it is working and cannot be sent twice.
import { initAll } from '/dashboard/govuk/govuk-frontend.min.js'

initAll()

function focusKey (root) {
  const active = document.activeElement
  if (!active || !root.contains(active)) return null
  return active.id ? '#' + CSS.escape(active.id) : (active.getAttribute('href') ? `[href="${CSS.escape(active.getAttribute('href'))}"]` : null)
}

function startLive (element) {
  const url = element.dataset.liveUrl
  const interval = Number(element.dataset.liveInterval) || 3000
  const announcer = element.dataset.liveAnnounce ? document.getElementById(element.dataset.liveAnnounce) : null
  let last = null

  async function tick () {
    if (element.dataset.liveFinal === 'true') return
    if (!document.hidden) {
      try {
        const response = await fetch(url, { headers: { 'X-Requested-With': 'fetch' }, credentials: 'same-origin', cache: 'no-store' })
        if (response.status === 401) { window.location.reload(); return }
        if (response.ok) {
          const html = await response.text()
          if (last !== null && html !== last) {
            const key = focusKey(element)
            element.innerHTML = html
            if (key) { const again = element.querySelector(key); if (again) again.focus() }
            if (announcer) announcer.textContent = 'Updated at ' + new Date().toLocaleTimeString('en-GB')
            element.dispatchEvent(new CustomEvent('live:updated', { bubbles: true }))
          }
          last = html
          if (element.querySelector('[data-live-final="true"]')) element.dataset.liveFinal = 'true'
        }
      } catch (error) {
        // The server may be restarting: try again on the next tick.
      }
    }
    window.setTimeout(tick, interval)
  }
  window.setTimeout(tick, 0)
}

document.querySelectorAll('[data-live-url]').forEach(startLive)

document.querySelectorAll('form[data-progress]').forEach(function (form) {
  form.addEventListener('submit', function () {
    const button = form.querySelector('button[type="submit"]')
    form.setAttribute('aria-busy', 'true')
    if (button) {
      button.textContent = form.dataset.progress
      button.setAttribute('aria-disabled', 'true')
      window.setTimeout(function () { button.disabled = true }, 0)
    }
  })
})
